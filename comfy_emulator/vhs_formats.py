"""VideoHelperSuite's video formats: the pack's own definitions, read as VHS_VideoCombine
reads them, and the ffmpeg command it builds from one.

A definition (data/vhs_video_formats/<name>.json) lists ffmpeg arguments per pass
(`main_pass`, `audio_pass`, ...) and settings (`extension`, `save_metadata`, ...). Where a
value depends on the node's inputs it is a list:

* ``[name, type or choices, {options}]`` - a widget: the input's value, as text;
* ``[name, choices, {options}, template]`` - a widget whose text is ``template`` with
  ``$val`` replaced;
* ``[name, {value: item}]`` - the item chosen by the input's value (resolved again);
* ``[[text, ...]]`` - arguments with ``$name`` replaced by input values.

An input the prompt leaves out takes the widget's default (else its first choice, else
the type's zero). A pass's resolved lists are spliced into it.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from string import Template
from typing import Any

# The recorded server had no gifski binary, so the pack offered no gifski format there;
# the emulator is that machine (a prompt naming it fails validation, as it did).
UNOFFERED = {"gifski"}
_TYPE_ZERO = {"BOOLEAN": False, "INT": 0, "FLOAT": 0, "STRING": ""}


@cache
def load_format(name: str) -> dict[str, Any]:
    """The pack's definition of `video/<name>`.

    :raises KeyError: for a format the pack does not define.
    """
    folder = resources.files("comfy_emulator").joinpath("data", "vhs_video_formats")
    entry = folder.joinpath(f"{name}.json")
    if name in UNOFFERED or not entry.is_file():
        raise KeyError(name)
    return json.loads(entry.read_text(encoding="utf-8"))


def widgets(definition: dict[str, Any]) -> list[list[Any]]:
    """The format's widget specs, in the order VHS lists them."""
    found: list[list[Any]] = []
    for key, value in definition.items():
        if key == "extra_widgets":
            found += value
        elif key.endswith("_pass"):
            found += [item for item in value if _is_widget(item)]
        elif _is_widget(value):
            found.append(value)
    return found


def _is_widget(item: Any) -> bool:
    return isinstance(item, list) and len(item) > 1 and not isinstance(item[1], dict)


def with_defaults(definition: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """`values` plus a default for every widget it lacks."""
    out = dict(values)
    for name, kind, *rest in widgets(definition):
        if name in out:
            continue
        options = rest[0] if rest else {}
        if "default" in options:
            out[name] = options["default"]
        else:
            out[name] = kind[0] if isinstance(kind, list) else _TYPE_ZERO[kind]
    return out


def resolve(definition: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The definition with every input-dependent value replaced: passes become flat lists of
    strings, settings become strings (``"True"``/``"False"`` for booleans, as VHS compares).

    :raises KeyError: when a value the format needs is missing from `values`.
    """
    values = with_defaults(definition, values)
    out: dict[str, Any] = {}
    for key, value in definition.items():
        if key == "extra_widgets":
            continue
        if key.endswith("_pass"):
            args: list[str] = []
            for item in value:
                resolved = _resolve(item, values)
                args += resolved if isinstance(resolved, list) else [resolved]
            out[key] = args
        else:
            out[key] = _resolve(value, values) if isinstance(value, list) else value
    return out


def _resolve(item: Any, values: dict[str, Any]) -> str | list[str]:
    while isinstance(item, list):
        if len(item) == 1:
            return [Template(text).substitute(values) for text in item[0]]
        name, second = item[0], item[1]
        if isinstance(second, dict):
            item = second[str(values[name])]
        elif len(item) > 3:
            return Template(item[3]).substitute(val=values[name])
        else:
            return str(values[name])
    return item


def merge_filters(args: list[str], flag: str = "-vf") -> list[str]:
    """Every `flag` argument joined into the first one (ffmpeg keeps only the last)."""
    out: list[str] = []
    first = None
    for i, arg in enumerate(args):
        if i > 0 and args[i - 1] == flag:
            if first is None:
                first = len(out)
                out.append(arg)
            else:
                out[first] += "," + arg
            continue
        if arg == flag and first is not None:
            continue
        out.append(arg)
    return out


def encode_command(
    ffmpeg: str,
    fmt: dict[str, Any],
    *,
    width: int,
    height: int,
    frame_rate: float,
    input_pix_fmt: str,
    loop_args: list[str],
) -> list[str]:
    """VHS_VideoCombine's ffmpeg command for a resolved format, up to the output path: raw
    frames on stdin, tagged sRGB-as-BT.709 (the pack's `fake_trc`), then the main pass."""
    args = [
        ffmpeg, "-v", "error", "-f", "rawvideo", "-pix_fmt", input_pix_fmt,
        "-color_range", "pc", "-colorspace", "rgb", "-color_primaries", "bt709",
        "-color_trc", fmt.get("fake_trc", "iec61966-2-1"),
        "-s", f"{width}x{height}", "-r", str(frame_rate), "-i", "-", *loop_args,
        *fmt["main_pass"], *_bitrate_args(fmt),
    ]  # fmt: skip
    return merge_filters(args)


def _bitrate_args(fmt: dict[str, Any]) -> list[str]:
    bitrate = fmt.get("bitrate")
    if bitrate is None:
        return []
    return ["-b:v", f"{bitrate}M" if fmt.get("megabit") == "True" else f"{bitrate}K"]


def with_metadata(command: list[str], metadata_path: str) -> list[str]:
    """The same command reading an FFMETADATA file as its first input, tagging the file
    (the pack's first try when the format saves metadata)."""
    return [command[0], "-i", metadata_path, *command[1:], "-metadata", "creation_time=now",
            "-movflags", "use_metadata_tags"]  # fmt: skip


def metadata_text(video_metadata: dict[str, Any]) -> str:
    """An FFMETADATA file: prompt first, then workflow, then the other keys, as JSON."""
    order = [k for k in ("prompt", "workflow") if k in video_metadata]
    order += [k for k in video_metadata if k not in ("prompt", "workflow")]
    lines = [";FFMETADATA1"]
    lines += [f"{key}={_escape(json.dumps(video_metadata[key]))}" for key in order]
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    for char in ("\\", ";", "#", "=", "\n"):
        value = value.replace(char, "\\" + char)
    return value
