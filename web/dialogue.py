"""Scene dialogue: lines spoken by the project's characters, inside the scene's length."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from shared.db import db
from shared.errors import ValidationError
from shared.models import Character, Episode, Scene


def checked_dialogue(
    episode: Episode, data: dict[str, Any], scene: Scene | None
) -> list[dict[str, Any]] | None:
    """The scene's lines after this write, in time order (None when the write leaves them).

    Checked against the duration the scene will have, so shortening a scene cannot leave a
    line after its end, and each speaker must be a character of the project.

    :raises ValidationError: naming the line and its field.
    """
    lines = data.get("dialogue")
    if lines is None and "duration_s" not in data:
        return None
    if lines is None:
        lines = list(scene.dialogue or ()) if scene is not None else []
    duration = data.get("duration_s", scene.duration_s if scene is not None else None)
    # Key-share locked: a character being deleted meanwhile is either gone here or sees
    # these lines (web.production.delete_character), never leaves them without a speaker.
    known = set(
        db.session.scalars(
            sa.select(Character.id)
            .where(
                Character.project_id == episode.project_id,
                Character.id.in_({line["character_id"] for line in lines}),
            )
            .with_for_update(read=True, key_share=True)
        )
    )
    for index, line in enumerate(lines):
        if line["character_id"] not in known:
            raise ValidationError(
                "dialogue speakers must be characters of the scene's project",
                fields={f"dialogue.{index}.character_id": "not in this project"},
            )
        if duration is not None and line["at_s"] >= duration:
            raise ValidationError(
                f"dialogue line {index} starts at {line['at_s']} s, after the scene's {duration} s",
                fields={f"dialogue.{index}.at_s": f"must be under the scene's {duration} s"},
            )
    return sorted(
        (
            {"character_id": li["character_id"], "text": li["text"], "at_s": li["at_s"]}
            for li in lines
        ),
        key=lambda li: li["at_s"],
    )
