"""How a prompt ended, read from its `/history` entry (the source of truth)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from shared.errors import brief
from workers.comfyui.capabilities import model_folder, model_named
from workers.comfyui.errors import (
    ComfyExecutionFailed,
    ComfyInterrupted,
    ComfyModelMissing,
    ComfyOutOfMemory,
)
from workers.comfyui.events import is_oom
from workers.comfyui.outputs import OutputFile, output_files

Status = Literal["success", "error", "interrupted"]

# Frame-Interpolation lists every checkpoint and downloads one on first use; offline, the
# download fails with this message (vfi_utils.load_file_from_github_release).
DOWNLOAD_FAILED = re.compile(r"Tried all urls to download (\S+) but no success")
# What a loader raises when the file it lists cannot be read: an empty or truncated
# safetensors (recorded: SafetensorError "header too small"), a truncated pickle (recorded:
# EOFError "Ran out of input"), a corrupt one, or a file deleted since it was listed.
UNREADABLE_FILE = frozenset(
    {"SafetensorError", "EOFError", "UnpicklingError", "BadZipFile", "FileNotFoundError"}
)


@dataclass(frozen=True)
class ErrorDetail:
    """The node that failed and what it raised."""

    node_id: str
    node_type: str
    exception_type: str
    message: str
    model: str = ""  # the model file the failing node was given, if it is a loader

    @property
    def out_of_memory(self) -> bool:
        """Whether this is an out-of-memory failure (transient for that backend)."""
        return is_oom(self.exception_type, self.message)

    @property
    def missing_model(self) -> tuple[str, str] | None:
        """(folder, name) of a model the node lists but could not get (download) or read (its
        copy on this backend is broken), if that is the failure."""
        folder = model_folder(self.node_type)
        found = DOWNLOAD_FAILED.search(self.message)
        if folder and found:
            return (folder, found.group(1))
        unreadable = self.exception_type.rsplit(".", 1)[-1] in UNREADABLE_FILE
        return (folder, self.model) if folder and self.model and unreadable else None


@dataclass(frozen=True)
class PromptOutcome:
    """The end of one prompt: status, outputs from history, their files, and error details."""

    prompt_id: str
    status: Status
    outputs: dict[str, Any] = field(default_factory=dict)
    files: list[OutputFile] = field(default_factory=list)
    error: ErrorDetail | None = None
    interrupted_node: str | None = None

    @property
    def ok(self) -> bool:
        """Whether every output ran."""
        return self.status == "success"

    def raise_for_status(self) -> PromptOutcome:
        """Return self on success, else raise the matching error.

        :raises ComfyOutOfMemory: a node ran out of (GPU) memory.
        :raises ComfyExecutionFailed: a node raised.
        :raises ComfyInterrupted: the prompt was interrupted.
        """
        if self.status == "success":
            return self
        if self.status == "interrupted":
            raise ComfyInterrupted(
                f"prompt {self.prompt_id} was interrupted at node {self.interrupted_node}",
                node_id=self.interrupted_node,
            )
        err = self.error or ErrorDetail("", "", "", "unknown execution error")
        text = (
            f"node {err.node_id} ({err.node_type}) raised {err.exception_type}: "
            f"{brief(err.message)}"
        )
        if err.out_of_memory:
            raise ComfyOutOfMemory(text, node_id=err.node_id, node_type=err.node_type)
        if err.missing_model:
            folder, model = err.missing_model
            raise ComfyModelMissing(
                text,
                node_id=err.node_id,
                node_type=err.node_type,
                exception_type=err.exception_type,
                folder=folder,
                model=model,
            )
        raise ComfyExecutionFailed(
            text, node_id=err.node_id, node_type=err.node_type, exception_type=err.exception_type
        )


def outcome_from_history(prompt_id: str, entry: dict[str, Any]) -> PromptOutcome:
    """Build the outcome from one history entry (the value under the prompt id)."""
    outputs = entry.get("outputs") or {}
    files = output_files(outputs)
    status = entry.get("status") or {}
    messages = status.get("messages") or []
    if status.get("status_str") == "success" or (status.get("completed") and not messages):
        return PromptOutcome(prompt_id, "success", outputs, files)
    for name, data in reversed(messages):
        if name == "execution_interrupted":
            node = data.get("node_id")
            return PromptOutcome(
                prompt_id, "interrupted", outputs, files, interrupted_node=_opt_str(node)
            )
        if name == "execution_error" and data.get("exception_type") != "ExecutionBlocked":
            detail = ErrorDetail(
                node_id=str(data.get("node_id", "")),
                node_type=str(data.get("node_type", "")),
                exception_type=str(data.get("exception_type", "")),
                message=str(data.get("exception_message", "")).rstrip("\n"),
                model=model_named(str(data.get("node_type", "")), data.get("current_inputs")),
            )
            return PromptOutcome(prompt_id, "error", outputs, files, error=detail)
    if status.get("status_str") == "error":
        detail = ErrorDetail("", "", "", "prompt ended with status error and no error message")
        return PromptOutcome(prompt_id, "error", outputs, files, error=detail)
    return PromptOutcome(prompt_id, "success", outputs, files)


def submitter_of(item: Any) -> str | None:
    """The client id in a queue item or a history entry's `prompt`, when it can be read.

    Only a hint: it decides whether our socket will carry the prompt's messages.
    """
    if isinstance(item, list | tuple) and len(item) > 3 and isinstance(item[3], dict):
        client = item[3].get("client_id")
        return str(client) if client else None
    return None


def _opt_str(value: Any) -> str | None:
    """str(value), keeping None."""
    return None if value is None else str(value)


@dataclass(frozen=True)
class QueueSnapshot:
    """`GET /queue` reduced to prompt ids: the running one(s) and the pending ones in run order."""

    running: list[str]
    pending: list[str]
    clients: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> QueueSnapshot:
        """Parse the body; items are indexed by position 0/1 only (newer servers add fields)."""
        running_items = list(body.get("queue_running") or [])
        # queue_pending is the raw heap array: sort by (number, prompt_id) for run order.
        pending_items = sorted(
            body.get("queue_pending") or [], key=lambda item: (float(item[0]), str(item[1]))
        )
        clients = {
            str(item[1]): client
            for item in running_items + pending_items
            if (client := submitter_of(item))
        }
        return cls(
            [str(item[1]) for item in running_items],
            [str(item[1]) for item in pending_items],
            clients,
        )

    def position(self, prompt_id: str) -> int | None:
        """0-based place of a pending prompt in run order, None when not pending."""
        try:
            return self.pending.index(prompt_id)
        except ValueError:
            return None

    def state(self, prompt_id: str) -> Literal["running", "pending"] | None:
        """Where the prompt is in the queue, if at all."""
        if prompt_id in self.running:
            return "running"
        if prompt_id in self.pending:
            return "pending"
        return None
