"""Every table of Tower; importing this package registers them all on the metadata."""

from shared.models.accounts import ApiToken, User
from shared.models.fleet import WorkerNode
from shared.models.library import LibraryEntry, Suggestion
from shared.models.production import Character, Episode, Project, Scene, scene_characters
from shared.models.render import Asset, Job, StageRun, Workflow
from shared.models.status import (
    AssetKind,
    JobKind,
    LibraryKind,
    NodeStatus,
    Role,
    Stage,
    Status,
    Transition,
    WorkflowStage,
)

__all__ = [
    "ApiToken",
    "Asset",
    "AssetKind",
    "Character",
    "Episode",
    "Job",
    "JobKind",
    "LibraryEntry",
    "LibraryKind",
    "NodeStatus",
    "Project",
    "Role",
    "Scene",
    "Stage",
    "StageRun",
    "Status",
    "Suggestion",
    "Transition",
    "User",
    "Workflow",
    "WorkflowStage",
    "WorkerNode",
    "scene_characters",
]
