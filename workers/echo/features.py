"""Echo Brain's features: for each, what to tell the model and the JSON Schema of its answer.

Plain functions of a context dict (the project, its characters, the episode's scenes so far)
and the request; the web tier reads the rows and stores the answers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MOODS = ("calm", "tense", "happy", "sad", "action", "mystery")
TRANSITIONS = ("cut", "crossfade", "fade_black")
FINDING_KINDS = ("pacing", "arc", "continuity", "other")
MAX_SCENE_S = 30.0

ROLE = (
    "You are Echo Brain, the creative assistant of an anime studio. You write for short "
    "AI-rendered anime scenes: a scene is one shot described by a text-to-image prompt (what is "
    "seen, comma-separated visual tags and phrases), lasting a few seconds."
)


@dataclass(frozen=True)
class Request:
    """What to send the model: its instructions, the question, and the answer's schema."""

    system: str
    prompt: str
    schema: dict[str, Any]


def _strings(**extra: Any) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, **extra}


def _object(properties: dict[str, Any], *optional: str) -> dict[str, Any]:
    required = [name for name in properties if name not in optional]
    return {"type": "object", "properties": properties, "required": required}


def scene_schema(character_names: list[str]) -> dict[str, Any]:
    """One ready scene, its characters named from the project's."""
    names = {"type": "string", "enum": character_names} if character_names else {"not": {}}
    return _object(
        {
            "prompt": _strings(maxLength=2000),
            "characters": {"type": "array", "items": names, "maxItems": 6},
            "duration_s": {"type": "number", "minimum": 0.5, "maximum": MAX_SCENE_S},
            "mood": {"type": "string", "enum": list(MOODS)},
            "transition": {"type": "string", "enum": list(TRANSITIONS)},
            "motion": {"type": "string", "maxLength": 200},
        },
        "motion",
    )


def context_text(context: dict[str, Any]) -> str:
    """The production's facts as the model reads them."""
    return "The production so far, as JSON:\n" + json.dumps(context, ensure_ascii=False)


def _names(context: dict[str, Any]) -> list[str]:
    return [c["name"] for c in context.get("characters", [])]


def enhance_prompt(context: dict[str, Any], prompt: str) -> Request:
    """A better positive prompt (quality tags, trigger words, the style) and a negative one."""
    schema = _object({"prompt": _strings(maxLength=4000), "negative_prompt": _strings()})
    return Request(
        f"{ROLE} Improve text-to-image prompts for the studio's anime models: keep the user's "
        "intent, add quality tags, the project's style and the trigger words of the characters "
        "involved, and write a negative prompt of what to avoid.",
        f"{context_text(context)}\n\nImprove this prompt: {prompt}",
        schema,
    )


def scene_suggestions(context: dict[str, Any], count: int, brief: str) -> Request:
    """The next scenes of an episode, from its synopsis and the scenes so far."""
    scenes = {
        "type": "array",
        "items": scene_schema(_names(context)),
        "minItems": count,
        "maxItems": count,
    }
    return Request(
        f"{ROLE} Suggest the next scenes of the episode, following on from its scenes so far "
        "and its synopsis, each ready to render.",
        f"{context_text(context)}\n\nSuggest {count} next scene(s). {brief}".strip(),
        _object({"scenes": scenes}),
    )


def dialogue(context: dict[str, Any], scene: dict[str, Any], max_lines: int, brief: str) -> Request:
    """Lines for one scene, each in its speaker's voice and inside the scene's length."""
    speakers = list(scene.get("characters", [])) or _names(context)
    line = _object(
        {
            "speaker": {"type": "string", "enum": speakers},
            "text": _strings(maxLength=300),
            "at_s": {"type": "number", "minimum": 0, "exclusiveMaximum": scene["duration_s"]},
        }
    )
    lines = {"type": "array", "items": line, "minItems": 1, "maxItems": max_lines}
    return Request(
        f"{ROLE} Write spoken dialogue for one scene: short lines, each in the speaking "
        "character's own voice (their description says who they are), each starting at a time "
        "in seconds inside the scene, leaving each line time to be spoken (3 words a second).",
        f"{context_text(context)}\n\nThe scene: {json.dumps(scene, ensure_ascii=False)}\n"
        f"Write at most {max_lines} line(s). {brief}".strip(),
        _object({"lines": lines}),
    )


def continuation(context: dict[str, Any], count: int, brief: str) -> Request:
    """The next episode: a title, a synopsis and its first scenes."""
    scenes = {
        "type": "array",
        "items": scene_schema(_names(context)),
        "minItems": 1,
        "maxItems": count,
    }
    return Request(
        f"{ROLE} Continue the story: write the next episode's title, a synopsis, and its scenes, "
        "consistent with the characters and what happened so far.",
        f"{context_text(context)}\n\nWrite the next episode with at most {count} scene(s). "
        f"{brief}".strip(),
        _object({"title": _strings(maxLength=300), "synopsis": _strings(), "scenes": scenes}),
    )


def brainstorm(context: dict[str, Any], topic: str) -> Request:
    """Ideas for a project: premises, characters and settings."""
    character = _object({"name": _strings(maxLength=200), "description": _strings()})
    ideas = {"type": "array", "items": _strings(), "minItems": 1, "maxItems": 10}
    schema = _object(
        {
            "premises": ideas,
            "characters": {"type": "array", "items": character, "maxItems": 10},
            "settings": ideas,
        }
    )
    return Request(
        f"{ROLE} Brainstorm with the studio: story premises, new characters and settings that "
        "fit the project.",
        f"{context_text(context)}\n\nBrainstorm about: {topic or 'anything that fits'}",
        schema,
    )


def analysis(context: dict[str, Any]) -> Request:
    """Findings on the storyline (pacing, arcs, continuity), each pointing at scenes."""
    orders = [s["order"] for s in context.get("scenes", [])]
    finding = _object(
        {
            "kind": {"type": "string", "enum": list(FINDING_KINDS)},
            "severity": {"type": "string", "enum": ["low", "medium", "high"]},
            "message": _strings(),
            "scenes": {"type": "array", "items": {"type": "integer", "enum": orders}},
        }
    )
    schema = _object(
        {"summary": _strings(), "findings": {"type": "array", "items": finding, "maxItems": 20}}
    )
    return Request(
        f"{ROLE} Review the episode's storyline: pacing, character arcs and continuity "
        "problems. Each finding names the scenes it is about by their order.",
        f"{context_text(context)}\n\nReview this episode.",
        schema,
    )
