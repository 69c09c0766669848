"""Projects and their characters."""

from __future__ import annotations

from web import production
from web.identity import MEMBERS, require_user, requires
from web.openapi import Blueprint
from web.public import OPTIONAL_AUTH, reader, reads_public
from web.schemas.common import PageQuerySchema
from web.schemas.production import (
    CharacterCreateSchema,
    CharacterPageSchema,
    CharacterSchema,
    CharacterUpdateSchema,
    ProjectCreateSchema,
    ProjectPageSchema,
    ProjectSchema,
    ProjectUpdateSchema,
)

blp = Blueprint(
    "projects", __name__, url_prefix="/api/anime", description="Projects and their characters"
)


@blp.route("/projects", methods=["GET"])
@reads_public
@blp.doc(**OPTIONAL_AUTH)
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, ProjectPageSchema)
def list_projects(query):
    """Projects the caller may read: their own, public demos, or all for staff."""
    return production.list_projects(reader(), **query)


@blp.route("/projects", methods=["POST"])
@requires(*MEMBERS)
@blp.arguments(ProjectCreateSchema)
@blp.response(201, ProjectSchema)
def create_project(data):
    """Create a project owned by the caller."""
    return production.create_project(require_user(), data)


@blp.route("/projects/<int:project_id>", methods=["GET"])
@reads_public
@blp.doc(**OPTIONAL_AUTH)
@blp.response(200, ProjectSchema)
def get_project(project_id):
    """One project."""
    return production.visible_project(reader(), project_id)


@blp.route("/projects/<int:project_id>", methods=["PATCH"])
@requires(*MEMBERS)
@blp.arguments(ProjectUpdateSchema)
@blp.response(200, ProjectSchema)
def update_project(data, project_id):
    """Change a project's fields."""
    project = production.visible_project(require_user(), project_id, write=True)
    return production.update_row(project, data)


@blp.route("/projects/<int:project_id>", methods=["DELETE"])
@requires(*MEMBERS)
@blp.response(204)
def delete_project(project_id):
    """Delete a project and everything under it (not while it renders)."""
    production.delete_project(require_user(), project_id)


@blp.route("/projects/<int:project_id>/characters", methods=["GET"])
@requires()
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, CharacterPageSchema)
def list_characters(query, project_id):
    """A project's characters."""
    return production.list_characters(require_user(), project_id, **query)


@blp.route("/projects/<int:project_id>/characters", methods=["POST"])
@requires(*MEMBERS)
@blp.arguments(CharacterCreateSchema)
@blp.response(201, CharacterSchema)
def create_character(data, project_id):
    """Add a character (LoRA, strength, trigger words) to a project."""
    project = production.visible_project(require_user(), project_id, write=True)
    return production.save_character(project, data)


@blp.route("/characters/<int:character_id>", methods=["GET"])
@requires()
@blp.response(200, CharacterSchema)
def get_character(character_id):
    """One character."""
    return production.visible_character(require_user(), character_id)


@blp.route("/characters/<int:character_id>", methods=["PATCH"])
@requires(*MEMBERS)
@blp.arguments(CharacterUpdateSchema)
@blp.response(200, CharacterSchema)
def update_character(data, character_id):
    """Change a character's fields."""
    character = production.visible_character(require_user(), character_id, write=True)
    return production.save_character(character.project, data, character)


@blp.route("/characters/<int:character_id>", methods=["DELETE"])
@requires(*MEMBERS)
@blp.response(204)
def delete_character(character_id):
    """Delete a character (409 while a scene's dialogue gives it a line)."""
    character = production.visible_character(require_user(), character_id, write=True)
    production.delete_character(character)
