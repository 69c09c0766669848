"""VideoHelperSuite's image-sequence formats, whose output no file is named after."""

from __future__ import annotations

from typing import Any


def writes_image_sequence(node: dict[str, Any]) -> bool:
    """Whether a VHS_VideoCombine writes an image sequence: its `video/*-png` formats name the
    output `<prefix>_00001.%03d.png` in `executed` and history, a pattern no file has (VHS
    nodes.py VideoCombine), so there is nothing to download by that name."""
    fmt = node.get("inputs", {}).get("format")
    return (
        node.get("class_type") == "VHS_VideoCombine"
        and isinstance(fmt, str)
        and fmt.startswith("video/")
        and fmt.endswith("-png")
    )


def image_sequence_problem(node_id: str, node: dict[str, Any]) -> str:
    """Why an output writing an image sequence cannot be collected."""
    return (
        f"node {node_id!r} writes numbered PNG files that ComfyUI reports only as a name "
        f"pattern ({node['inputs']['format']}); save frames with SaveImage"
    )
