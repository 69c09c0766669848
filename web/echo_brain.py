"""Echo Brain's services: read the production, ask the model, keep the answer as a Suggestion.

The read transaction ends before the model is asked, so a minute-long answer holds no database
connection.
"""

from __future__ import annotations

import logging
from typing import Any

from shared.db import db
from shared.errors import ValidationError
from shared.models import EchoFeature, Episode, Project, Suggestion, User
from web import throttle
from web.echo_context import character_ids, production_context, scene_facts, scene_rows
from web.production import visible_episode, visible_project, visible_scene
from workers.echo import features
from workers.echo.answers import Answer
from workers.echo.config import require_llm_config

log = logging.getLogger(__name__)


def ask(request: features.Request) -> Answer:
    """The configured model's answer to one feature request.

    :raises LlmNotConfigured: when no LLM is set up (503).
    :raises LlmTimeout, LlmBusy: past the deadline (504).
    :raises LlmBadGateway: when the server fails or answers badly twice (502).
    """
    # openai takes seconds to import: web processes pay for it on their first question only.
    from workers.echo.llm import LlmClient

    config = require_llm_config()
    db.session.commit()  # end the read transaction: the answer may take a minute
    with LlmClient(config, throttle.client()) as client:
        return client.ask_json(request.system, request.prompt, request.schema)


def keep(
    user: User,
    feature: EchoFeature,
    given: dict[str, Any],
    answer: Answer,
    output: dict[str, Any],
    *,
    project_id: int | None = None,
    episode_id: int | None = None,
    scene_id: int | None = None,
) -> Suggestion:
    """Store an answer as the caller's suggestion."""
    row = Suggestion(
        owner_id=user.id,
        project_id=project_id,
        episode_id=episode_id,
        scene_id=scene_id,
        feature=feature.value,
        input=given,
        model=answer.model,
        output=output,
        latency_ms=int(answer.latency_s * 1000),
    )
    db.session.add(row)
    db.session.commit()
    log.info("echo suggestion id=%s feature=%s model=%s latency_ms=%s",
             row.id, row.feature, row.model, row.latency_ms)  # fmt: skip
    return row


def suggest_scenes(user: User, episode_id: int, *, count: int, brief: str) -> Suggestion:
    """The next scenes of an episode, ready to accept."""
    episode = visible_episode(user, episode_id)
    project = episode.project
    answer = ask(features.scene_suggestions(production_context(project, episode), count, brief))
    output = {"scenes": scene_rows(project, answer.data["scenes"])}
    given = {"episode_id": episode.id, "count": count, "brief": brief}
    return keep(user, EchoFeature.SCENES, given, answer, output,
                project_id=project.id, episode_id=episode.id)  # fmt: skip


def suggest_dialogue(user: User, scene_id: int, *, max_lines: int, brief: str) -> Suggestion:
    """Lines for a scene in its characters' voices, ready to accept.

    :raises ValidationError: when the project has no character to speak them.
    """
    scene = visible_scene(user, scene_id)
    episode: Episode = scene.episode
    project: Project = episode.project
    if not project.characters:
        raise ValidationError(
            "dialogue needs a character to speak it; the project has none",
            fields={"scene_id": "its project has no characters"},
        )
    names = {c.id: c.name for c in project.characters}
    request = features.dialogue(
        production_context(project, episode), scene_facts(scene, names), max_lines, brief
    )
    answer = ask(request)
    lines = [
        {"character_id": character_ids(project, [li["speaker"]])[0], "text": li["text"],
         "at_s": float(li["at_s"])}
        for li in answer.data["lines"]
    ]  # fmt: skip
    given = {"scene_id": scene.id, "max_lines": max_lines, "brief": brief}
    return keep(user, EchoFeature.DIALOGUE, given, answer,
                {"lines": sorted(lines, key=lambda li: li["at_s"])},
                project_id=project.id, episode_id=episode.id, scene_id=scene.id)  # fmt: skip


def continue_episode(user: User, episode_id: int, *, count: int, brief: str) -> Suggestion:
    """The next episode's title, synopsis and scenes, ready to accept."""
    episode = visible_episode(user, episode_id)
    project = episode.project
    answer = ask(features.continuation(production_context(project, episode), count, brief))
    output = {
        "title": answer.data["title"][:300],
        "synopsis": answer.data["synopsis"],
        "scenes": scene_rows(project, answer.data["scenes"]),
    }
    given = {"episode_id": episode.id, "count": count, "brief": brief}
    return keep(user, EchoFeature.CONTINUATION, given, answer, output,
                project_id=project.id, episode_id=episode.id)  # fmt: skip


def brainstorm(user: User, project_id: int, *, topic: str) -> Suggestion:
    """Premises, characters and settings for a project."""
    project = visible_project(user, project_id)
    answer = ask(features.brainstorm(production_context(project), topic))
    return keep(user, EchoFeature.BRAINSTORM, {"project_id": project.id, "topic": topic},
                answer, answer.data, project_id=project.id)  # fmt: skip


def analyse(user: User, episode_id: int) -> Suggestion:
    """Findings on an episode's storyline, each naming the scenes (ids and orders) concerned."""
    episode = visible_episode(user, episode_id)
    project = episode.project
    ids = {s.order: s.id for s in episode.scenes}
    if not ids:
        raise ValidationError(
            "the episode has no scenes to analyse", fields={"episode_id": "has no scenes"}
        )
    answer = ask(features.analysis(production_context(project, episode)))
    findings = [
        {**f, "scene_ids": [ids[o] for o in f["scenes"] if o in ids], "scene_orders": f["scenes"]}
        for f in answer.data["findings"]
    ]
    for finding in findings:
        finding.pop("scenes")
    output = {"summary": answer.data["summary"], "findings": findings}
    return keep(user, EchoFeature.ANALYSIS, {"episode_id": episode.id}, answer, output,
                project_id=project.id, episode_id=episode.id)  # fmt: skip
