"""What Echo Brain is told about a production: style, characters, the episode's scenes so far."""

from __future__ import annotations

from typing import Any

from shared.models import Character, Episode, Project, Scene

MAX_SCENES = 40  # the latest scenes of an episode the model reads


def character_facts(character: Character) -> dict[str, Any]:
    """A character as the model reads it."""
    return {
        "name": character.name,
        "description": character.description,
        "trigger_words": character.trigger_words,
    }


def scene_facts(scene: Scene, names: dict[int, str]) -> dict[str, Any]:
    """A scene as the model reads it (speakers by name)."""
    return {
        "order": scene.order,
        "prompt": scene.prompt,
        "characters": [c.name for c in scene.characters],
        "duration_s": scene.duration_s,
        "mood": scene.mood,
        "transition": scene.transition,
        "dialogue": [
            {"speaker": names.get(line["character_id"], "?"), "text": line["text"],
             "at_s": line["at_s"]}
            for line in scene.dialogue or ()
        ],
    }  # fmt: skip


def production_context(
    project: Project, episode: Episode | None = None, characters: list[Character] | None = None
) -> dict[str, Any]:
    """The project (and episode) as Echo Brain reads them."""
    cast = project.characters if characters is None else characters
    context: dict[str, Any] = {
        "project": {
            "name": project.name,
            "description": project.description,
            "style": project.style,
        },
        "characters": [character_facts(c) for c in cast],
    }
    if episode is not None:
        names = {c.id: c.name for c in project.characters}
        context["episode"] = {"number": episode.number, "title": episode.title}
        context["scenes"] = [scene_facts(s, names) for s in episode.scenes[-MAX_SCENES:]]
    return context


def character_ids(project: Project, names: list[str]) -> list[int]:
    """The ids of the project's characters named (unknown names dropped: the schema has
    already limited them to the project's)."""
    by_name = {c.name: c.id for c in project.characters}
    return [by_name[n] for n in names if n in by_name]


def scene_rows(project: Project, scenes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Suggested scenes as scene API bodies (without their order)."""
    return [
        {
            "prompt": s["prompt"],
            "character_ids": character_ids(project, s.get("characters", [])),
            "duration_s": float(s["duration_s"]),
            "mood": s["mood"],
            "transition": s["transition"],
            "motion": s.get("motion", "")[:200],
        }
        for s in scenes
    ]
