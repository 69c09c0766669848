"""The YAML production file: a project, its characters, one episode and its scenes.

A file is read in two passes: PyYAML composes the node tree (for each value's line), then the
plain data is checked field by field, so every problem names its line and dotted field::

    production.yaml:14: scenes[1].transition: must be one of cut, crossfade, fade_black
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tower_client.errors import TowerError

TRANSITIONS = ("cut", "crossfade", "fade_black")
Path_ = tuple[str | int, ...]
Check = Callable[[Any], str | None]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a production file: where and what."""

    line: int | None
    field: str
    message: str

    def describe(self, source: str) -> str:
        """`file:line: field: message`."""
        where = f"{source}:{self.line}" if self.line else source
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ProductionError(TowerError):
    """A production file that cannot be used; `problems` says where and why."""

    code = "invalid_production"

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(
            problems[0].describe(source),
            fields={p.field or "file": p.message for p in problems},
        )

    def lines(self) -> list[str]:
        """Every problem as `file:line: field: message`."""
        return [p.describe(self.source) for p in self.problems]


@dataclass(frozen=True)
class Production:
    """A checked production: plain dicts ready for the API, scenes naming their characters."""

    project: dict[str, Any]
    characters: list[dict[str, Any]]
    episode: dict[str, Any]
    scenes: list[dict[str, Any]]
    render: dict[str, Any] = field(default_factory=dict)
    priority: int = 5


def is_text(v: Any) -> str | None:
    return None if isinstance(v, str) and v.strip() else "must be a non-empty string"


def is_string(v: Any) -> str | None:
    return None if isinstance(v, str) else "must be a string"


def is_bool(v: Any) -> str | None:
    return None if isinstance(v, bool) else "must be true or false"


def integer(lo: int, hi: int) -> Check:
    """A check for an integer in [lo, hi]."""

    def check(v: Any) -> str | None:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            return f"must be a whole number from {lo} to {hi}"
        return None

    return check


def number(lo: float, hi: float, *, above: bool = False) -> Check:
    """A check for a number in [lo, hi] (or (lo, hi] with `above`)."""

    def check(v: Any) -> str | None:
        ok = isinstance(v, int | float) and not isinstance(v, bool)
        if not ok or v > hi or v < lo or (above and v == lo):
            low = f"above {lo} up to" if above else f"from {lo} to"
            return f"must be a number {low} {hi}"
        return None

    return check


def one_of(*choices: Any) -> Check:
    """A check for one of `choices`."""
    listed = ", ".join(str(c) for c in choices)
    return lambda v: None if v in choices else f"must be one of {listed}"


PROJECT = {
    "name": (True, is_text),
    "description": (False, is_string),
    "style": (False, is_string),
    "is_public": (False, is_bool),
}
CHARACTER = {
    "name": (True, is_text),
    "description": (False, is_string),
    "lora": (False, is_text),
    "lora_strength": (False, number(-10, 10)),
    "trigger_words": (False, is_string),
    "voice": (False, is_string),
}
EPISODE = {
    "number": (True, integer(1, 10000)),
    "title": (True, is_text),
    "fps": (False, integer(1, 60)),
    "width": (False, integer(64, 2048)),
    "height": (False, integer(64, 2048)),
}
SCENE = {
    "prompt": (True, is_text),
    "duration_s": (True, number(0.1, 600, above=True)),
    "negative_prompt": (False, is_string),
    "characters": (False, None),
    "mood": (False, is_text),
    "motion": (False, is_string),
    "transition": (False, one_of(*TRANSITIONS)),
    "transition_s": (False, number(0, 5)),
    "seed": (False, integer(0, 2**53)),
    "sfx": (False, None),
    "dialogue": (False, None),
}
SFX = {"name": (True, is_text), "at_s": (True, number(0, 600)), "gain_db": (False, number(-60, 20))}
LINE = {"speaker": (True, is_text), "text": (True, is_text), "at_s": (True, number(0, 600))}
RENDER = {
    "seed": (False, integer(0, 2**63 - 1)),
    "steps": (False, integer(1, 150)),
    "frames": (False, integer(1, 64)),
    "fps": (False, integer(1, 60)),
    "width": (False, integer(64, 2048)),
    "height": (False, integer(64, 2048)),
    "multiplier": (False, one_of(2, 4)),
    "engine": (False, one_of("animatediff", "svd")),
    "checkpoint": (False, is_text),
    "upscale": (False, None),  # checked by the farm (factor or height, model, method)
}
TOP = {
    "project": (True, None),
    "characters": (False, None),
    "episode": (True, None),
    "scenes": (True, None),
    "render": (False, None),
    "priority": (False, integer(0, 9)),
}


class Checker:
    """Collects problems against the line map of one document."""

    def __init__(self, lines: dict[Path_, int]) -> None:
        self.lines = lines
        self.problems: list[Problem] = []

    def add(self, path: Path_, message: str) -> None:
        """Record a problem at `path` (its line is that of the nearest known ancestor)."""
        probe = path
        while probe and probe not in self.lines:
            probe = probe[:-1]
        self.problems.append(Problem(self.lines.get(probe), dotted(path), message))

    def mapping(self, value: Any, path: Path_, spec: dict[str, tuple[bool, Check | None]]) -> bool:
        """Check a mapping's keys against `spec` and each value with its check."""
        if not isinstance(value, dict):
            self.add(path, "must be a mapping of fields")
            return False
        for key in value:
            if key not in spec:
                self.add((*path, str(key)), f"unknown field (expected {', '.join(spec)})")
        for key, (required, check) in spec.items():
            if key not in value:
                if required:
                    self.add((*path, key), "is required")
                continue
            message = check(value[key]) if check else None
            if message:
                self.add((*path, key), message)
        return True

    def sequence(self, value: Any, path: Path_, *, minimum: int = 0) -> list[Any]:
        """A list value, or a problem."""
        if not isinstance(value, list) or len(value) < minimum:
            self.add(
                path,
                f"must be a list of at least {minimum} item(s)" if minimum else "must be a list",
            )
            return []
        return value


def dotted(path: Path_) -> str:
    """`scenes[1].sfx[0].at_s` from ('scenes', 1, 'sfx', 0, 'at_s')."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def map_lines(node: yaml.Node, path: Path_ = (), lines: dict[Path_, int] | None = None) -> dict:
    """The 1-based line of every value in a composed document, by path."""
    lines = {} if lines is None else lines
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else str(key.value)
            map_lines(value, (*path, name), lines)
            lines[(*path, name)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            map_lines(item, (*path, i), lines)
    return lines


def parse_production(text: str, source: str = "production.yaml") -> Production:
    """Check a production document and return it as API-ready dicts.

    :raises ProductionError: naming the line and field of every problem (or the YAML error).
    """
    try:
        refuse_aliases(text, source)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = mark.line + 1 if mark is not None else None
        raise ProductionError(source, [Problem(line, "", f"not valid YAML: {problem}")]) from exc
    if node is None:
        raise ProductionError(source, [Problem(None, "", "the file is empty")])
    checker = Checker(map_lines(node))
    if not checker.mapping(data, (), TOP):
        raise ProductionError(source, checker.problems)
    check_sections(checker, data)
    if checker.problems:
        raise ProductionError(source, sorted(checker.problems, key=lambda p: p.line or 0))
    return build_production(data)


def refuse_aliases(text: str, source: str) -> None:
    """Stop at the first anchor or alias: a few hundred bytes of nested aliases expand to
    billions of values, and a production file never needs them.

    :raises ProductionError: naming the anchor's or alias's line.
    :raises yaml.YAMLError: when the text is not YAML.
    """
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            mark = "*" if isinstance(event, yaml.AliasEvent) else "&"
            message = (
                f"YAML anchors and aliases are not allowed (found {mark}{event.anchor}); "
                "write each value out"
            )
            raise ProductionError(source, [Problem(event.start_mark.line + 1, "", message)])


def check_sections(checker: Checker, data: dict[str, Any]) -> None:
    """Check the project, characters, episode, scenes and render sections."""
    if "project" in data:
        checker.mapping(data["project"], ("project",), PROJECT)
    if "episode" in data:
        checker.mapping(data["episode"], ("episode",), EPISODE)
    if "render" in data:
        checker.mapping(data["render"], ("render",), RENDER)
    names: set[str] = set()
    for i, character in enumerate(checker.sequence(data.get("characters", []), ("characters",))):
        if checker.mapping(character, ("characters", i), CHARACTER):
            name = character.get("name")
            if name in names:
                checker.add(("characters", i, "name"), f"'{name}' is defined twice")
            names.add(name)
    scenes = checker.sequence(data["scenes"], ("scenes",), minimum=1) if "scenes" in data else []
    for i, scene in enumerate(scenes):
        if checker.mapping(scene, ("scenes", i), SCENE):
            check_scene(checker, scene, ("scenes", i), names)


def check_scene(checker: Checker, scene: dict[str, Any], path: Path_, names: set[str]) -> None:
    """A scene's character names, sound-effect cues and dialogue lines."""
    for j, name in enumerate(checker.sequence(scene.get("characters", []), (*path, "characters"))):
        if name not in names:
            checker.add((*path, "characters", j), f"no character named {name!r}")
    duration = scene.get("duration_s")
    for j, cue in enumerate(checker.sequence(scene.get("sfx", []), (*path, "sfx"))):
        if checker.mapping(cue, (*path, "sfx", j), SFX):
            at = cue.get("at_s")
            if number(0.1, 600)(duration) is None and number(0, 600)(at) is None and at >= duration:
                checker.add(
                    (*path, "sfx", j, "at_s"), f"must be inside the scene (before {duration} s)"
                )
    for j, line in enumerate(checker.sequence(scene.get("dialogue", []), (*path, "dialogue"))):
        if checker.mapping(line, (*path, "dialogue", j), LINE):
            if line.get("speaker") not in names:
                checker.add((*path, "dialogue", j, "speaker"),
                            f"no character named {line.get('speaker')!r}")  # fmt: skip
            at = line.get("at_s")
            if number(0.1, 600)(duration) is None and number(0, 600)(at) is None and at >= duration:
                checker.add(
                    (*path, "dialogue", j, "at_s"),
                    f"must be inside the scene (before {duration} s)",
                )


def build_production(data: dict[str, Any]) -> Production:
    """API field names from checked data (lora -> lora_name, sfx -> sfx_cues, order)."""
    characters = []
    for character in data.get("characters", []):
        row = dict(character)
        if "lora" in row:
            row["lora_name"] = row.pop("lora")
        characters.append(row)
    scenes = []
    for order, scene in enumerate(data["scenes"], start=1):
        row = {"order": order, **scene}
        row["characters"] = list(scene.get("characters", []))
        row["sfx_cues"] = [dict(c) for c in row.pop("sfx", [])]
        row["dialogue"] = [dict(line) for line in row.pop("dialogue", [])]
        scenes.append(row)
    return Production(
        project=dict(data["project"]),
        characters=characters,
        episode=dict(data["episode"]),
        scenes=scenes,
        render=dict(data.get("render") or {}),
        priority=data.get("priority", 5),
    )


def read_production(path: str | Path) -> Production:
    """Read and check a production file.

    :raises ProductionError: when it is unreadable or malformed.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProductionError(str(path), [Problem(None, "", f"cannot read: {exc}")]) from exc
    return parse_production(text, str(path))
