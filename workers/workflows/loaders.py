"""File-loading inputs: what a graph may ask a GPU node to read.

Loader nodes (LoadImage, VHS_LoadVideo, VHS_LoadImages, ...) open whatever path they are given,
and ComfyUI resolves absolute paths, `..` and `name [output]` annotations, so an uploaded graph
could read any file on the node (another job's outputs, /etc). Tower uploads a stage's inputs
to its own subfolder of ComfyUI's input folder, so a loader input must name a file there and
nothing else: checked at upload (graph constants and bindings) and again when a stage is bound.
"""

from __future__ import annotations

import re
from typing import Any

from workers.workflows.catalog import Catalog
from workers.workflows.validator import is_link

INPUT_FOLDER = "tower"
# The parameters Tower fills at run time with the names of the files it uploaded there.
RUNTIME_INPUTS = frozenset({"image", "frames_dir"})
LOADER_INPUTS: frozenset[tuple[str, str]] = frozenset(
    {
        ("LoadImage", "image"),
        ("LoadImageMask", "image"),
        ("LoadImageOutput", "image"),
        ("LoadVideo", "file"),
        ("LoadAudio", "audio"),
        ("VHS_LoadImages", "directory"),
        ("VHS_LoadVideo", "video"),
        ("VHS_LoadAudioUpload", "audio"),
    }
)
# Spec options that mark an input as a file picker over the input folder.
UPLOAD_OPTIONS = ("image_upload", "video_upload", "audio_upload", "upload")
# Input names that hold a file or folder on a node whose class loads something.
FILE_INPUT_NAMES = frozenset({"image", "video", "audio", "file", "directory", "path", "filename"})
SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.() -]*$")
RULE = (
    f"must name a file under Tower's input folder ({INPUT_FOLDER}/...): no absolute path, "
    "no '..', no '[output]'-style annotation"
)


def is_loader_input(catalog: Catalog, class_type: str, input_name: str) -> bool:
    """Whether this input of this class names a file or folder the node reads."""
    if (class_type, input_name) in LOADER_INPUTS:
        return True
    if class_type in catalog:
        spec = catalog.inputs(class_type).get(input_name)
        if spec is not None and any(spec.options.get(key) for key in UPLOAD_OPTIONS):
            return True
    return "Load" in class_type and input_name in FILE_INPUT_NAMES


def loader_inputs(graph: dict[str, Any], catalog: Catalog) -> list[tuple[str, str]]:
    """Every (node id, input name) of the graph that names a file or folder to read."""
    return [
        (node_id, name)
        for node_id, node in graph.items()
        for name in node.get("inputs", {})
        if is_loader_input(catalog, node["class_type"], name)
    ]


def loader_value_problem(value: Any, *, in_input_folder: bool = True) -> str | None:
    """Why `value` may not be given to a loader input, or None. Without `in_input_folder`
    (a placeholder Tower replaces at run time) it need only be a plain relative name."""
    if is_link(value):
        return "must be a constant file name, not a link from another node"
    segments = value.split("/") if isinstance(value, str) else []
    plain = bool(segments) and all(
        SEGMENT.match(part) and part not in (".", "..") for part in segments
    )
    if not plain or (in_input_folder and (len(segments) < 2 or segments[0] != INPUT_FOLDER)):
        return RULE
    return None


def bound_file_problems(
    prompt: dict[str, Any], catalog: Catalog, output_key: str
) -> list[tuple[str, str, str]]:
    """(node id, input, message) for each loader input of a bound prompt outside Tower's input
    folder, and each save prefix outside the stage's output folder."""
    problems = [
        (node_id, name, message)
        for node_id, name in loader_inputs(prompt, catalog)
        if (message := loader_value_problem(prompt[node_id]["inputs"][name]))
    ]
    for node_id, node in prompt.items():
        prefix = node.get("inputs", {}).get("filename_prefix")
        if prefix is not None and not str(prefix).startswith(f"{output_key}/"):
            problems.append(
                (node_id, "filename_prefix", f"must save under the stage's folder {output_key}/")
            )
    return problems
