"""The rule-based prompt enhancer: quality tags, the project's style, characters' trigger words.

A later issue replaces it with the LLM-backed assistant behind the same endpoint.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from shared.db import db
from shared.errors import ValidationError
from shared.models import Character, User
from web.production import visible_project

QUALITY_TAGS = ("masterpiece", "best quality", "highly detailed", "anime style")
NEGATIVE_PROMPT = (
    "lowres, bad anatomy, bad hands, text, error, missing fingers, cropped, "
    "worst quality, low quality, jpeg artifacts, signature, watermark, blurry"
)


def split_tags(text: str) -> list[str]:
    """Comma-separated tags, trimmed, without empties."""
    return [t.strip() for t in text.split(",") if t.strip()]


def enhance_prompt(
    user: User, prompt: str, *, project_id: int | None, character_ids: list[int], style: str
) -> dict[str, Any]:
    """The prompt with quality tags, style and trigger words added (each once).

    :raises NotFoundError: when the project is not visible.
    :raises ValidationError: when characters are given without their project.
    """
    characters: list[Character] = []
    if project_id is not None:
        project = visible_project(user, project_id)
        style = style or project.style
        if character_ids:
            characters = list(
                db.session.scalars(
                    sa.select(Character).where(
                        Character.project_id == project.id, Character.id.in_(character_ids)
                    )
                )
            )
    elif character_ids:
        raise ValidationError(
            "character_ids need the project_id they belong to",
            fields={"project_id": "required with character_ids"},
        )
    present = {t.lower() for t in split_tags(prompt)}
    added: list[str] = []
    for tag in [
        *(w for c in characters for w in split_tags(c.trigger_words)),
        *split_tags(style),
        *QUALITY_TAGS,
    ]:
        if tag.lower() not in present:
            present.add(tag.lower())
            added.append(tag)
    enhanced = ", ".join([prompt.strip(), *added])
    return {"prompt": enhanced, "negative_prompt": NEGATIVE_PROMPT, "added": added}
