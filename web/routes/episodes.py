"""Episodes and their scenes, including scene reordering."""

from __future__ import annotations

from flask import send_file

from web import production
from web.identity import MEMBERS, require_user, requires
from web.openapi import Blueprint
from web.public import OPTIONAL_AUTH, latest_final, reader, reads_public
from web.routes.assets import BINARY
from web.schemas.common import PageQuerySchema
from web.schemas.production import (
    EpisodeCreateSchema,
    EpisodePageSchema,
    EpisodeSchema,
    EpisodeUpdateSchema,
    SceneCreateSchema,
    ScenePageSchema,
    SceneReorderSchema,
    SceneSchema,
    SceneUpdateSchema,
)

blp = Blueprint(
    "episodes", __name__, url_prefix="/api/anime", description="Episodes and their scenes"
)


@blp.route("/projects/<int:project_id>/episodes", methods=["GET"])
@reads_public
@blp.doc(**OPTIONAL_AUTH)
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, EpisodePageSchema)
def list_episodes(query, project_id):
    """A project's episodes."""
    return production.list_episodes(reader(), project_id, **query)


@blp.route("/projects/<int:project_id>/episodes", methods=["POST"])
@requires(*MEMBERS)
@blp.arguments(EpisodeCreateSchema)
@blp.response(201, EpisodeSchema)
def create_episode(data, project_id):
    """Add a numbered episode to a project."""
    project = production.visible_project(require_user(), project_id, write=True)
    return production.save_episode(project, data)


@blp.route("/episodes/<int:episode_id>", methods=["GET"])
@reads_public
@blp.doc(**OPTIONAL_AUTH)
@blp.response(200, EpisodeSchema)
def get_episode(episode_id):
    """One episode."""
    return production.visible_episode(reader(), episode_id)


@blp.route("/episodes/<int:episode_id>", methods=["PATCH"])
@requires(*MEMBERS)
@blp.arguments(EpisodeUpdateSchema)
@blp.response(200, EpisodeSchema)
def update_episode(data, episode_id):
    """Change an episode's fields."""
    episode = production.visible_episode(require_user(), episode_id, write=True)
    return production.save_episode(episode.project, data, episode)


@blp.route("/episodes/<int:episode_id>", methods=["DELETE"])
@requires(*MEMBERS)
@blp.response(204)
def delete_episode(episode_id):
    """Delete an episode and its scenes."""
    production.delete_row(production.visible_episode(require_user(), episode_id, write=True))


@blp.route("/episodes/<int:episode_id>/scenes", methods=["GET"])
@reads_public
@blp.doc(**OPTIONAL_AUTH)
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, ScenePageSchema)
def list_scenes(query, episode_id):
    """An episode's scenes."""
    return production.list_scenes(reader(), episode_id, **query)


@blp.route("/episodes/<int:episode_id>/final", methods=["GET"])
@reads_public
@blp.doc(
    **OPTIONAL_AUTH,
    responses={
        "200": {"description": "The newest final cut (video)", **BINARY},
        "206": {"description": "The requested byte range", **BINARY},
        "304": {"description": "Not modified"},
        "404": {"description": "Not readable, or no final cut yet"},
    },
)
def get_final(episode_id):
    """Download the episode's newest final cut (range requests supported)."""
    path, mime_type, name = latest_final(reader(), episode_id)
    return send_file(
        path, mimetype=mime_type, conditional=True, etag=True, max_age=0, download_name=name
    )


@blp.route("/episodes/<int:episode_id>/scenes", methods=["POST"])
@requires(*MEMBERS)
@blp.arguments(SceneCreateSchema)
@blp.response(201, SceneSchema)
def create_scene(data, episode_id):
    """Add a scene to an episode."""
    episode = production.visible_episode(require_user(), episode_id, write=True)
    return production.save_scene(episode, data)


@blp.route("/episodes/<int:episode_id>/scenes/reorder", methods=["POST"])
@requires(*MEMBERS)
@blp.arguments(SceneReorderSchema)
@blp.response(200, SceneSchema(many=True))
def reorder_scenes(data, episode_id):
    """Put an episode's scenes in the given order (every scene id, once)."""
    episode = production.visible_episode(require_user(), episode_id, write=True)
    return production.reorder_scenes(episode, data["scene_ids"])


@blp.route("/scenes/<int:scene_id>", methods=["GET"])
@reads_public
@blp.doc(**OPTIONAL_AUTH)
@blp.response(200, SceneSchema)
def get_scene(scene_id):
    """One scene."""
    return production.visible_scene(reader(), scene_id)


@blp.route("/scenes/<int:scene_id>", methods=["PATCH"])
@requires(*MEMBERS)
@blp.arguments(SceneUpdateSchema)
@blp.response(200, SceneSchema)
def update_scene(data, scene_id):
    """Change a scene's fields or characters."""
    scene = production.visible_scene(require_user(), scene_id, write=True)
    return production.save_scene(scene.episode, data, scene)


@blp.route("/scenes/<int:scene_id>", methods=["DELETE"])
@requires(*MEMBERS)
@blp.response(204)
def delete_scene(scene_id):
    """Delete a scene."""
    production.delete_row(production.visible_scene(require_user(), scene_id, write=True))
