"""Row factories: valid rows with every required field, overridable per test."""

from __future__ import annotations

import itertools
from typing import Any

from shared.models import (
    Asset,
    Character,
    Episode,
    Job,
    LibraryEntry,
    Project,
    Scene,
    StageRun,
    User,
    WorkerNode,
    Workflow,
)

_counter = itertools.count(1)


def _add(session, row):
    session.add(row)
    session.flush()
    return row


def make_user(session, **fields: Any) -> User:
    """A user with a unique email."""
    n = next(_counter)
    values = {"email": f"user{n}@example.com", "password_hash": "x", "role": "user"}
    return _add(session, User(**(values | fields)))


def make_project(session, **fields: Any) -> Project:
    """A project with an owner."""
    if "owner_id" not in fields:
        fields["owner_id"] = make_user(session).id
    return _add(session, Project(**({"name": f"project {next(_counter)}"} | fields)))


def make_character(session, **fields: Any) -> Character:
    """A character in a project."""
    if "project_id" not in fields:
        fields["project_id"] = make_project(session).id
    values = {"name": f"character {next(_counter)}", "lora_name": "character_v1.safetensors"}
    return _add(session, Character(**(values | fields)))


def make_episode(session, **fields: Any) -> Episode:
    """An episode in a project."""
    if "project_id" not in fields:
        fields["project_id"] = make_project(session).id
    values = {"number": next(_counter), "title": "Pilot"}
    return _add(session, Episode(**(values | fields)))


def make_scene(session, **fields: Any) -> Scene:
    """A scene in an episode."""
    if "episode_id" not in fields:
        fields["episode_id"] = make_episode(session).id
    values = {"order": next(_counter), "prompt": "a quiet street at dusk", "duration_s": 2.0}
    return _add(session, Scene(**(values | fields)))


def make_job(session, **fields: Any) -> Job:
    """A queued job with an owner and a project."""
    if "project_id" not in fields:
        project = make_project(session)
        fields["project_id"] = project.id
        fields.setdefault("owner_id", project.owner_id)
    return _add(session, Job(**({"kind": "scene"} | fields)))


def make_stage_run(session, **fields: Any) -> StageRun:
    """A queued keyframe stage run of a job."""
    if "job_id" not in fields:
        fields["job_id"] = make_job(session).id
    return _add(session, StageRun(**({"stage": "keyframe", "attempt": 1} | fields)))


def make_asset(session, **fields: Any) -> Asset:
    """An image asset with a unique URI."""
    values = {"uri": f"file:///artifacts/{next(_counter)}.png", "kind": "image"}
    return _add(session, Asset(**(values | fields)))


def make_workflow(session, **fields: Any) -> Workflow:
    """A keyframe workflow version."""
    values = {
        "name": f"keyframe-{next(_counter)}",
        "stage": "keyframe",
        "version": 1,
        "graph": {},
        "bindings": {},
    }
    return _add(session, Workflow(**(values | fields)))


def make_worker_node(session, **fields: Any) -> WorkerNode:
    """An online GPU node."""
    n = next(_counter)
    values = {"name": f"node{n}", "hostname": f"host{n}", "comfyui_url": "http://127.0.0.1:8188"}
    return _add(session, WorkerNode(**(values | fields)))


def make_library_entry(session, **fields: Any) -> LibraryEntry:
    """A music cue."""
    values = {
        "kind": "music",
        "name": f"cue {next(_counter)}",
        "uri": "file:///x.wav",
        "tags": ["calm"],
        "duration_s": 8.0,
    }
    return _add(session, LibraryEntry(**(values | fields)))
