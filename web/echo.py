"""Prompt enhancement: the configured LLM's rewrite, or without one the rule-based enhancer
(quality tags, the project's style, characters' trigger words). Either answer is kept as a
Suggestion."""

from __future__ import annotations

from typing import Any

from shared.errors import ValidationError
from shared.models import Character, EchoFeature, Project, User
from web.echo_brain import ask, keep
from web.echo_context import production_context
from web.production import project_characters, visible_project
from workers.echo import features
from workers.echo.answers import Answer
from workers.echo.config import llm_config

QUALITY_TAGS = ("masterpiece", "best quality", "highly detailed", "anime style")
NEGATIVE_PROMPT = (
    "lowres, bad anatomy, bad hands, text, error, missing fingers, cropped, "
    "worst quality, low quality, jpeg artifacts, signature, watermark, blurry"
)
RULES_MODEL = "rules"  # the model name kept for the rule-based enhancer's answers


def split_tags(text: str) -> list[str]:
    """Comma-separated tags, trimmed, without empties."""
    return [t.strip() for t in text.split(",") if t.strip()]


def prompt_subject(
    user: User, project_id: int | None, character_ids: list[int]
) -> tuple[Project | None, list[Character]]:
    """The project and the characters of it that a prompt is about.

    :raises NotFoundError: when the project is not visible.
    :raises ValidationError: when characters are given without their project, or are not
        its own.
    """
    if project_id is None:
        if character_ids:
            raise ValidationError(
                "character_ids need the project_id they belong to",
                fields={"project_id": "required with character_ids"},
            )
        return None, []
    project = visible_project(user, project_id)
    return project, project_characters(project.id, character_ids) if character_ids else []


def rule_based(prompt: str, style: str, characters: list[Character]) -> dict[str, Any]:
    """The prompt with quality tags, style and trigger words added (each once)."""
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


def enhance_prompt(
    user: User, prompt: str, *, project_id: int | None, character_ids: list[int], style: str
) -> dict[str, Any]:
    """A better prompt and a negative prompt, from the LLM when one is configured.

    :raises NotFoundError: when the project is not visible.
    :raises ValidationError: when characters are given without their project, or are not
        its own.
    :raises LlmTimeout, LlmBusy, LlmBadGateway: when the configured LLM fails (504, 502).
    """
    project, characters = prompt_subject(user, project_id, character_ids)
    style = style or (project.style if project else "")
    if llm_config() is None:
        answer = Answer(rule_based(prompt, style, characters), RULES_MODEL, 0.0, 1)
        output = answer.data
    else:
        context = production_context(project, characters=characters) if project else {}
        context["style"] = style
        answer = ask(features.enhance_prompt(context, prompt))
        present = {t.lower() for t in split_tags(prompt)}
        added = [t for t in split_tags(answer.data["prompt"]) if t.lower() not in present]
        output = {**answer.data, "added": added}
    given = {"prompt": prompt, "project_id": project_id, "character_ids": character_ids,
             "style": style}  # fmt: skip
    row = keep(user, EchoFeature.ENHANCE_PROMPT, given, answer, output,
               project_id=project.id if project else None)  # fmt: skip
    return {**output, "suggestion_id": row.id, "model": row.model}
