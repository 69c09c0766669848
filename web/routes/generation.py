"""Generation: submit, status, cancel, retry and the two presets."""

from __future__ import annotations

from web import services
from web.identity import require_user, requires
from web.jobs import status_url
from web.openapi import Blueprint
from web.schemas.generation import (
    AcceptedSchema,
    CharacterGenerateSchema,
    GenerateSchema,
    IntegratedAcceptedSchema,
    IntegratedSchema,
    JobStatusSchema,
    ProfessionalSchema,
    RetakeSchema,
    RetrySchema,
    SceneGenerateSchema,
)
from web.status_cache import status_response

blp = Blueprint("generation", __name__, description="Render jobs: submit, follow, control")


def accepted(job) -> dict:
    """The 202 body for a queued job."""
    return {"request_id": job.id, "status": job.status, "status_url": status_url(job.id)}


@blp.route("/api/anime/projects/<int:project_id>/generate", methods=["POST"])
@requires()
@blp.arguments(GenerateSchema)
@blp.response(202, AcceptedSchema)
def generate_project(data, project_id):
    """Render an episode, some scenes, or their keyframes only."""
    kind = data.pop("kind")
    return accepted(services.submit_job(require_user(), project_id, kind, **data))


@blp.route("/api/anime/scenes/<int:scene_id>/generate", methods=["POST"])
@requires()
@blp.arguments(SceneGenerateSchema)
@blp.response(202, AcceptedSchema)
def generate_scene(data, scene_id):
    """Render one scene."""
    return accepted(services.submit_scene(require_user(), scene_id, **data))


@blp.route("/api/anime/scenes/<int:scene_id>/retake", methods=["POST"])
@requires()
@blp.arguments(RetakeSchema)
@blp.response(202, AcceptedSchema)
def retake_scene(data, scene_id):
    """Re-render one scene of its succeeded episode job (new seed or prompt) and recompile;
    other scenes keep their clips. A job that failed or was cancelled is refused (409): retry
    it, or submit the production again."""
    return accepted(services.retake_scene(require_user(), scene_id, **data))


@blp.route("/api/anime/characters/<int:character_id>/generate", methods=["POST"])
@requires()
@blp.arguments(CharacterGenerateSchema)
@blp.response(202, AcceptedSchema)
def generate_character(data, character_id):
    """Render a character reference sheet (keyframe only)."""
    return accepted(services.submit_character(require_user(), character_id, **data))


@blp.route("/api/anime/generation/<int:request_id>/status", methods=["GET"])
@blp.response(200, JobStatusSchema)
def get_status(request_id):
    """A job's state, every stage run and the outputs so far (304 when If-None-Match names
    its ETag)."""
    return status_response(request_id)  # checks the caller with the job's row version


@blp.route("/api/anime/generation/<int:request_id>/cancel", methods=["POST"])
@requires()
@blp.response(202, AcceptedSchema)
def cancel(request_id):
    """Cancel a job: its tasks are revoked and its prompts interrupted."""
    return accepted(services.cancel_job(require_user(), request_id))


@blp.route("/api/anime/generation/<int:request_id>/retry", methods=["POST"])
@requires()
@blp.arguments(RetrySchema)
@blp.response(202, AcceptedSchema)
def retry(data, request_id):
    """Re-run failed stages (or one given stage) and everything after them."""
    return accepted(services.retry_job(require_user(), request_id, data["stage_id"]))


@blp.route("/generate/integrated", methods=["POST"])
@requires()
@blp.arguments(IntegratedSchema)
@blp.response(202, IntegratedAcceptedSchema)
def generate_integrated(data):
    """One call from a text brief to a finished scene: creates what it needs, runs every stage."""
    job, episode, scenes = services.submit_integrated(require_user(), data)
    return {
        **accepted(job),
        "project_id": episode.project_id,
        "episode_id": episode.id,
        "scene_ids": [s.id for s in scenes],
    }


@blp.route("/generate/professional", methods=["POST"])
@requires()
@blp.arguments(ProfessionalSchema)
@blp.response(202, AcceptedSchema)
def generate_professional(data):
    """Full control of every stage's parameters and workflow versions."""
    return accepted(services.submit_professional(require_user(), data))
