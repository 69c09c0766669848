"""ComfyUI client: submit API-format prompts, follow them, fetch outputs (requests + websocket).

One ComfyClient and one client id per worker process::

    with ComfyClient(url, timeout=(3.05, 30)) as comfy:
        deadline = time.monotonic() + limit
        if comfy.locate(prompt_id) is None:        # re-delivered task: re-attach instead
            comfy.submit(graph, prompt_id=prompt_id, client_id=client_id)
        outcome = comfy.follow(prompt_id, client_id=client_id, deadline=deadline,
                               on_event=publish_progress).raise_for_status()
        for n, file in enumerate(outcome.files):
            comfy.download(file, stage_dir / f"{n:03d}{suffix_of(file)}")

Errors are TransientError (ComfyUnavailable, ComfyTimeout, ComfyPromptLost,
ComfyOutOfMemory, ComfyInterrupted) or PermanentError (ComfyRejected, ComfyExecutionFailed,
ComfyProtocolError); `is_transient(exc)` also classifies raw requests/websocket errors.
"""

from __future__ import annotations

from workers.comfyui.capabilities import Capabilities, capabilities_from_object_info
from workers.comfyui.client import CancelResult, ComfyClient, SubmitResult, check_prompt_id
from workers.comfyui.errors import (
    ComfyClassRejected,
    ComfyExecutionFailed,
    ComfyInterrupted,
    ComfyModelMissing,
    ComfyModelRejected,
    ComfyOutOfMemory,
    ComfyPromptLost,
    ComfyProtocolError,
    ComfyRejected,
    ComfyTimeout,
    ComfyUnavailable,
    NodeError,
    is_transient,
)
from workers.comfyui.events import (
    Cached,
    Done,
    Event,
    Failed,
    Interrupted,
    NodeExecuting,
    NodeOutput,
    Queued,
    Started,
    StepProgress,
    Succeeded,
    parse_binary,
    parse_message,
)
from workers.comfyui.follower import FollowSettings
from workers.comfyui.listener import ComfySocket
from workers.comfyui.outcome import ErrorDetail, PromptOutcome, QueueSnapshot
from workers.comfyui.outputs import OutputFile, UploadedFile, output_files, safe_name

__all__ = [
    "Cached",
    "CancelResult",
    "Capabilities",
    "ComfyClassRejected",
    "ComfyClient",
    "ComfyExecutionFailed",
    "ComfyInterrupted",
    "ComfyModelMissing",
    "ComfyModelRejected",
    "ComfyOutOfMemory",
    "ComfyPromptLost",
    "ComfyProtocolError",
    "ComfyRejected",
    "ComfySocket",
    "ComfyTimeout",
    "ComfyUnavailable",
    "Done",
    "ErrorDetail",
    "Event",
    "Failed",
    "FollowSettings",
    "Interrupted",
    "NodeError",
    "NodeExecuting",
    "NodeOutput",
    "OutputFile",
    "PromptOutcome",
    "QueueSnapshot",
    "Queued",
    "Started",
    "StepProgress",
    "Succeeded",
    "SubmitResult",
    "UploadedFile",
    "capabilities_from_object_info",
    "check_prompt_id",
    "is_transient",
    "output_files",
    "parse_binary",
    "parse_message",
    "safe_name",
]
