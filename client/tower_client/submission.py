"""Submitting a production: its rows through the API in order, then the episode's render job."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tower_client.errors import ApiError

if TYPE_CHECKING:
    from tower_client.api import TowerClient
    from tower_client.production import Production

log = logging.getLogger(__name__)

CHARACTER_FIELDS = ("description", "lora_name", "lora_strength", "trigger_words", "voice")
SCENE_FIELDS = ("negative_prompt", "mood", "motion", "transition", "transition_s", "seed")


@dataclass
class Submission:
    """What a submitted production created: row ids, the queued job and any warnings."""

    project_id: int
    episode_id: int
    character_ids: dict[str, int] = field(default_factory=dict)
    scene_ids: list[int] = field(default_factory=list)
    job: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def job_id(self) -> int:
        """The render job's id."""
        return int(self.job["request_id"])


def submit_production(client: TowerClient, production: Production) -> Submission:
    """Create the project, characters, episode and scenes, then queue the episode's render.

    :raises ApiError: when the server refuses a row or the job (nothing after it is created).
    """
    project = client.create_project(**production.project)
    episode = client.create_episode(project["id"], **production.episode)
    result = Submission(project_id=project["id"], episode_id=episode["id"])
    for character in production.characters:
        extra = {k: character[k] for k in CHARACTER_FIELDS if k in character}
        row = client.create_character(project["id"], character["name"], **extra)
        result.character_ids[character["name"]] = row["id"]
    for scene in production.scenes:
        result.scene_ids.append(create_scene(client, result, scene))
    result.job = client.generate(
        project["id"],
        kind="episode",
        episode_id=episode["id"],
        options=production.render,
        priority=production.priority,
    )
    return result


def create_scene(client: TowerClient, result: Submission, scene: dict[str, Any]) -> int:
    """Create one scene with its characters, sound-effect cues and dialogue; its id.

    :raises ApiError: when the server refuses the scene.
    """
    extra = {k: scene[k] for k in SCENE_FIELDS if k in scene}
    extra["character_ids"] = [result.character_ids[n] for n in scene["characters"]]
    if scene.get("dialogue"):
        extra["dialogue"] = [
            {"character_id": result.character_ids[line["speaker"]], "text": line["text"],
             "at_s": line["at_s"]}
            for line in scene["dialogue"]
        ]  # fmt: skip
    args = (result.episode_id, scene["order"], scene["prompt"], scene["duration_s"])
    if not scene["sfx_cues"]:
        return client.create_scene(*args, **extra)["id"]
    try:
        return client.create_scene(*args, **extra, sfx_cues=scene["sfx_cues"])["id"]
    except ApiError as exc:
        # A server whose scene schema predates sound-effect cues rejects the field by name;
        # the scene is still worth rendering, so say what was dropped and go on.
        if exc.status != 422 or "sfx_cues" not in (exc.fields or {}):
            raise
    result.warnings.append(
        f"the server does not accept sound-effect cues: scene {scene['order']}'s "
        f"{len(scene['sfx_cues'])} cue(s) were not sent"
    )
    log.info("sfx_cues refused scene_order=%s", scene["order"])
    return client.create_scene(*args, **extra)["id"]
