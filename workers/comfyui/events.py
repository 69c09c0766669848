"""Typed events parsed from ComfyUI WebSocket frames, filtered to one prompt."""

from __future__ import annotations

import json
import logging
import struct
from dataclasses import dataclass, field
from typing import Any

from workers.comfyui.capabilities import model_named
from workers.comfyui.outputs import OutputFile, files_of_node

logger = logging.getLogger(__name__)

OOM_MARKERS = ("outofmemoryerror", "out of memory", "ran out of memory")


@dataclass(frozen=True)
class Queued:
    """The prompt waits in the queue; position 0 runs next."""

    position: int


@dataclass(frozen=True)
class Started:
    """The server took the prompt off the queue (`execution_start`)."""

    timestamp: int | None = None


@dataclass(frozen=True)
class Cached:
    """Nodes whose outputs are reused from the previous run (they get no NodeExecuting)."""

    nodes: tuple[str, ...]


@dataclass(frozen=True)
class NodeExecuting:
    """A node started executing."""

    node: str


@dataclass(frozen=True)
class StepProgress:
    """A node reported a step (sampler step, frame)."""

    node: str
    value: int
    max: int


@dataclass(frozen=True)
class NodeOutput:
    """An output node produced UI output (replayed with old files for a cached node)."""

    node: str
    output: dict[str, Any]
    files: tuple[OutputFile, ...] = ()


@dataclass(frozen=True)
class Succeeded:
    """All outputs ran (`execution_success`); history may still be empty until Done."""

    timestamp: int | None = None


@dataclass(frozen=True)
class Failed:
    """A node raised (`execution_error`)."""

    node_id: str
    node_type: str
    exception_type: str
    message: str
    model: str = ""  # the model file the failing node was given, if it is a loader

    @property
    def out_of_memory(self) -> bool:
        """Whether the failure is a (GPU) out-of-memory error: transient for that backend."""
        return is_oom(self.exception_type, self.message)


@dataclass(frozen=True)
class Interrupted:
    """The prompt was interrupted (`execution_interrupted`)."""

    node_id: str | None


@dataclass(frozen=True)
class Done:
    """The prompt is over (`executing` with node null): history is written."""


@dataclass(frozen=True)
class QueueStatus:
    """A broadcast `status` frame: the queue changed (carries no prompt id)."""

    remaining: int
    sid: str | None = None


@dataclass(frozen=True)
class CurrentNode:
    """The `executing` frame re-sent on reconnect: no prompt id, so maybe not ours."""

    node: str | None


@dataclass(frozen=True)
class BinaryFrame:
    """A binary frame (preview image or progress text); never needed to follow a prompt."""

    event_type: int
    node_id: str | None = None
    prompt_id: str | None = None
    text: str | None = None
    image: bytes = field(default=b"", repr=False)


Event = (
    Queued
    | Started
    | Cached
    | NodeExecuting
    | StepProgress
    | NodeOutput
    | Succeeded
    | Failed
    | Interrupted
    | Done
    | QueueStatus
    | CurrentNode
)


def is_oom(exception_type: str, message: str) -> bool:
    """Whether an execution error is torch's out-of-memory (any of its class names)."""
    text = f"{exception_type} {message}".lower()
    return any(marker in text for marker in OOM_MARKERS)


def parse_message(msg: dict[str, Any], prompt_id: str) -> Event | None:
    """Turn one decoded JSON frame into an event for `prompt_id`; None for anything else."""
    if not isinstance(msg, dict):
        return None
    kind = msg.get("type")
    data = msg.get("data")
    if not isinstance(data, dict):
        return None
    if kind == "status":
        exec_info = (data.get("status") or {}).get("exec_info") or {}
        return QueueStatus(int(exec_info.get("queue_remaining", 0) or 0), data.get("sid"))
    if kind == "executing" and "prompt_id" not in data:
        return CurrentNode(data.get("node"))
    if data.get("prompt_id") != prompt_id:
        return None
    return _parse_own(kind, data)


def _parse_own(kind: Any, data: dict[str, Any]) -> Event | None:
    """Parse a frame already known to belong to the followed prompt."""
    if kind == "execution_start":
        return Started(data.get("timestamp"))
    if kind == "execution_cached":
        return Cached(tuple(str(n) for n in data.get("nodes") or ()))
    if kind == "executing":
        node = data.get("node")
        return Done() if node is None else NodeExecuting(str(node))
    if kind == "progress":
        return StepProgress(str(data.get("node")), int(data["value"]), int(data["max"]))
    if kind == "executed":
        node = str(data.get("node"))
        output = data.get("output") or {}
        return NodeOutput(node, output, tuple(files_of_node(node, output)))
    if kind == "execution_success":
        return Succeeded(data.get("timestamp"))
    if kind == "execution_error":
        if data.get("exception_type") == "ExecutionBlocked":
            return None  # a control-flow block: the prompt goes on
        return Failed(
            node_id=str(data.get("node_id", "")),
            node_type=str(data.get("node_type", "")),
            exception_type=str(data.get("exception_type", "")),
            message=str(data.get("exception_message", "")).rstrip("\n"),
            model=model_named(str(data.get("node_type", "")), data.get("current_inputs")),
        )
    if kind == "execution_interrupted":
        node_id = data.get("node_id")
        return Interrupted(None if node_id is None else str(node_id))
    return None


def decode_frame(text: str | bytes) -> dict[str, Any] | None:
    """The JSON object of a text frame; malformed frames are logged and give None."""
    try:
        msg = json.loads(text)
    except ValueError:
        logger.warning("comfyui ignored a malformed frame length=%d", len(text))
        return None
    return msg if isinstance(msg, dict) else None


def parse_frame(msg: dict[str, Any], prompt_id: str) -> Event | None:
    """parse_message that logs and ignores a frame with missing or mistyped fields."""
    try:
        return parse_message(msg, prompt_id)
    except (KeyError, TypeError, ValueError):
        logger.warning("comfyui ignored an unexpected frame type=%s", msg.get("type"))
        return None


def prompt_of(msg: dict[str, Any]) -> str | None:
    """The prompt id a frame is about, if it names one."""
    data = msg.get("data")
    prompt_id = data.get("prompt_id") if isinstance(data, dict) else None
    return str(prompt_id) if prompt_id else None


def parse_text_frame(text: str | bytes, prompt_id: str) -> Event | None:
    """Decode a text frame and parse it for `prompt_id`."""
    msg = decode_frame(text)
    return None if msg is None else parse_frame(msg, prompt_id)


def parse_binary(frame: bytes) -> BinaryFrame | None:
    """Parse a binary frame (types 1, 3, 4); None when it is too short or malformed."""
    if len(frame) < 4:
        return None
    (event_type,) = struct.unpack(">I", frame[:4])
    try:
        if event_type == 1 and len(frame) >= 8:
            return BinaryFrame(event_type, image=frame[8:])
        if event_type in (3, 4) and len(frame) >= 8:
            (length,) = struct.unpack(">I", frame[4:8])
            head, rest = frame[8 : 8 + length], frame[8 + length :]
            if len(head) != length:
                return None
            if event_type == 3:
                return BinaryFrame(3, node_id=head.decode(), text=rest.decode())
            meta = json.loads(head)
            return BinaryFrame(4, meta.get("node_id"), meta.get("prompt_id"), image=rest)
    except (UnicodeDecodeError, ValueError, AttributeError):
        return None
    return BinaryFrame(event_type)
