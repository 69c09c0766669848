"""The YAML production file: its data, and the line of every field in it.

The farm holds the rules (`POST /api/anime/productions`, which `tower validate` asks with
`dry_run`); the client only reads the YAML, keeps a map from field paths to lines, and names
the farm's refusals in the file's terms::

    production.yaml:14: scenes[2].sfx[0].gain_db: Must be ... less than or equal to 12.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tower_client.errors import TowerError
from tower_client.textfiles import TooLong, read_text_limited

Path_ = tuple[str | int, ...]
# Where the file's field names differ from the API's: (section, file name) -> API name.
RENAMES = {("characters", "lora"): "lora_name", ("scenes", "sfx"): "sfx_cues"}
# The farm's limit on a JSON body's nesting.
MAX_DEPTH = 64


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
    """A production file as read: its YAML data and the line of each field."""

    source: str
    data: Any
    lines: dict[Path_, int]

    def body(self, priority: int | None = None) -> Any:
        """The JSON the farm takes: the file's data with the API's field names."""
        data = plain(self.data)
        if isinstance(data, dict):
            for (section, name), api_name in RENAMES.items():
                items = data.get(section)
                for item in items if isinstance(items, list) else ():
                    if isinstance(item, dict) and name in item and api_name not in item:
                        item[api_name] = item.pop(name)
            if priority is not None:
                data["priority"] = priority
        return data

    def problem(self, api_field: str, message: str) -> Problem:
        """A farm's message about `api_field` (`scenes.2.sfx_cues.0.gain_db`), at its line."""
        path = file_path(api_field)
        probe = path
        while probe and probe not in self.lines:
            probe = probe[:-1]
        return Problem(self.lines.get(probe) if probe else None, dotted(path), message)

    def describe(self, api_field: str, message: str) -> str:
        """`file:line: field: message` for a farm's message about `api_field`."""
        return self.problem(api_field, message).describe(self.source)


def plain(value: Any) -> Any:
    """YAML data as JSON can carry it, so that the farm names whatever is wrong at its line:
    keys as text, and values JSON has none for (dates, .nan, .inf) as text. Before, a date
    as a key stopped the client with a TypeError, and .nan made it say the farm was
    unreachable."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, str | int | float):
        return value
    return str(value)


def file_path(api_field: str) -> Path_:
    """('scenes', 2, 'sfx', 0, 'gain_db') from the farm's `scenes.2.sfx_cues.0.gain_db`."""
    parts: list[str | int] = [
        int(p) if p.isdigit() else p for p in api_field.split(".") if p and p != "_schema"
    ]
    if len(parts) > 2 and isinstance(parts[1], int):
        reverse = {(sec, api): name for (sec, name), api in RENAMES.items()}
        parts[2] = reverse.get((parts[0], parts[2]), parts[2])
    return tuple(parts)


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
    """Read a production document: its data and the line of each field (the farm checks it).

    :raises ProductionError: when it is not YAML, is empty, or uses anchors and aliases.
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
    return Production(source, data, map_lines(node))


def refuse_aliases(text: str, source: str) -> None:
    """Stop at the first anchor or alias: a few hundred bytes of nested aliases expand to
    billions of values, and a production file never needs them. Stop too past MAX_DEPTH
    nested levels: reading them (recursive) ended in a RecursionError, and the farm refuses
    bodies that deep anyway.

    :raises ProductionError: naming the anchor's or alias's line, or the too deep one.
    :raises yaml.YAMLError: when the text is not YAML.
    """
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            mark = "*" if isinstance(event, yaml.AliasEvent) else "&"
            message = (
                f"YAML anchors and aliases are not allowed (found {mark}{event.anchor}); "
                "write each value out"
            )
            raise ProductionError(source, [Problem(event.start_mark.line + 1, "", message)])
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                message = f"nested more than {MAX_DEPTH} levels deep"
                raise ProductionError(source, [Problem(event.start_mark.line + 1, "", message)])
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def read_production(path: str | Path) -> Production:
    """Read and check a production file.

    :raises ProductionError: when it is unreadable or malformed.
    """
    path = Path(path)
    try:
        text = read_text_limited(path)
    except TooLong as exc:
        raise ProductionError(str(path), [Problem(None, "", str(exc))]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ProductionError(str(path), [Problem(None, "", f"cannot read: {exc}")]) from exc
    return parse_production(text, str(path))
