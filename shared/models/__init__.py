"""Every table of Tower; importing this package registers them all on the metadata."""

from shared.models.accounts import ApiToken, User
from shared.models.fleet import WorkerNode
from shared.models.library import EchoFeature, LibraryEntry, Suggestion
from shared.models.production import Character, Episode, Project, Scene, scene_characters
from shared.models.render import (
    Asset,
    Job,
    JobRetry,
    StageRun,
    Workflow,
    stage_kinds,
    workflow_kinds,
)
from shared.models.settings import FarmSetting, SettingChange
from shared.models.status import (
    AssetKind,
    JobKind,
    LibraryKind,
    NodeStatus,
    Role,
    Status,
    Transition,
)
from shared.models.totals import ComfyErrorTotal, StageDurationTotal, StageFinish

__all__ = [
    "ApiToken",
    "Asset",
    "AssetKind",
    "Character",
    "ComfyErrorTotal",
    "EchoFeature",
    "Episode",
    "FarmSetting",
    "Job",
    "JobRetry",
    "JobKind",
    "LibraryEntry",
    "LibraryKind",
    "NodeStatus",
    "Project",
    "Role",
    "Scene",
    "SettingChange",
    "StageDurationTotal",
    "StageFinish",
    "StageRun",
    "Status",
    "Suggestion",
    "Transition",
    "User",
    "Workflow",
    "WorkerNode",
    "scene_characters",
    "stage_kinds",
    "workflow_kinds",
]
