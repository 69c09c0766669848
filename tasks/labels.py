"""What a stage task's message tells people watching Flower: its job, stage, scene (by its order
in the episode) and backend, sent as keyword arguments with defaults beside the ids the task
reads. Flower shows them and searches them (`kwargs:job_id=8`, `kwargs:stage=animate`)."""

from __future__ import annotations

from typing import Any

from shared.models import StageRun

LABELS = ("job_id", "stage", "scene", "backend")


def stage_labels(run: StageRun, scene: int | None, backend: str | None = None) -> dict[str, Any]:
    """The labels of a stage run's message (`scene`: the scene's order; None for the episode)."""
    return {"job_id": run.job_id, "stage": run.stage, "scene": scene, "backend": backend}


def carried(kwargs: dict[str, Any] | None, queue: str | None) -> dict[str, Any]:
    """The labels of a message sent again (a retry, a re-route, a wait) to `queue`: the same
    job, stage and scene, and the backend its queue names (unknown on the shared queue)."""
    labels = {name: (kwargs or {}).get(name) for name in LABELS}
    labels["backend"] = backend_of(queue) if queue else labels["backend"]
    return labels


def backend_of(queue: str) -> str | None:
    """The node a GPU node queue (`gpu.<node>`) belongs to; None for shared queues."""
    return queue.removeprefix("gpu.") if queue.startswith("gpu.") else None
