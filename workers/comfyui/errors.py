"""Errors of the ComfyUI client, classified transient or permanent for the task layer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import requests
import websocket

from shared.errors import PermanentError, TransientError
from workers.comfyui.capabilities import MODEL_INPUTS


class ComfyUnavailable(TransientError):
    """The backend was unreachable, reset the connection, answered 5xx or dropped the socket."""

    code = "comfy_unavailable"


class ComfyTimeout(ComfyUnavailable):
    """A deadline passed before the backend answered or the prompt ended."""

    code = "comfy_timeout"


class ComfyPromptLost(ComfyUnavailable):
    """The prompt is in neither the queue nor the history: the backend restarted or dropped it."""

    code = "comfy_prompt_lost"


class ComfyOutOfMemory(TransientError):
    """The backend ran out of GPU memory; another backend (or a later try) may succeed."""

    code = "comfy_out_of_memory"

    def __init__(self, message: str, *, node_id: str = "", node_type: str = "") -> None:
        super().__init__(message, fields={"node_id": node_id, "node_type": node_type})
        self.node_id = node_id
        self.node_type = node_type


@dataclass(frozen=True)
class NodeError:
    """One validation failure of one node input, as ComfyUI reported it."""

    node_id: str
    class_type: str
    input_name: str
    type: str
    message: str
    details: str
    received: str = ""  # the value the server refused (extra_info.received_value), if given

    def describe(self) -> str:
        """A one-line human description naming node, class and input."""
        where = f"node {self.node_id} ({self.class_type})"
        if self.input_name:
            where += f" input {self.input_name}"
        text = self.message
        if self.details and self.details not in text:
            text = f"{text}: {self.details}"
        return f"{where}: {text}"


class ComfyRejected(PermanentError):
    """ComfyUI refused the prompt at validation (HTTP 400, or node_errors on a needed output)."""

    code = "comfy_rejected"

    def __init__(
        self, message: str, *, error_type: str = "", errors: list[NodeError] | None = None
    ):
        self.error_type = error_type
        self.errors = list(errors or [])
        fields = {f"{e.node_id}.{e.input_name or e.type}": e.describe() for e in self.errors}
        super().__init__(message, fields=fields)


class ComfyModelRejected(ComfyRejected):
    """Validation refused model files this backend does not list (`value_not_in_list` on a
    loader's model input): permanent on this backend, another one may have the files."""

    code = "comfy_model_missing"

    def __init__(
        self,
        message: str,
        *,
        error_type: str = "",
        errors: list[NodeError],
        missing: list[tuple[str, str]],
    ) -> None:
        super().__init__(message, error_type=error_type, errors=errors)
        self.missing = tuple(missing)


class ComfyClassRejected(ComfyRejected):
    """Validation refused a node class this backend does not have (a node pack that failed to
    load when its ComfyUI last started): permanent on this backend, another one may run it."""

    code = "comfy_node_missing"

    def __init__(self, message: str, *, error_type: str = "", node_class: str) -> None:
        super().__init__(message, error_type=error_type)
        self.node_class = node_class


class ComfyExecutionFailed(PermanentError):
    """A node raised while the prompt ran (WebSocket `execution_error`)."""

    code = "comfy_execution_failed"

    def __init__(self, message: str, *, node_id: str, node_type: str, exception_type: str) -> None:
        fields = {"node_id": node_id, "node_type": node_type, "exception_type": exception_type}
        super().__init__(message, fields=fields)
        self.node_id = node_id
        self.node_type = node_type
        self.exception_type = exception_type


class ComfyModelMissing(ComfyExecutionFailed):
    """The backend lists a model it does not have (e.g. a RIFE checkpoint it failed to
    download): permanent on this backend, another one may have the file."""

    code = "comfy_model_missing"

    def __init__(
        self,
        message: str,
        *,
        node_id: str,
        node_type: str,
        exception_type: str,
        folder: str,
        model: str,
    ) -> None:
        super().__init__(
            message, node_id=node_id, node_type=node_type, exception_type=exception_type
        )
        self.folder = folder
        self.model = model

    @property
    def missing(self) -> tuple[tuple[str, str], ...]:
        """(folder, model) of the model the backend lacks, like ComfyModelRejected's."""
        return ((self.folder, self.model),)


class ComfyInterrupted(TransientError):
    """The prompt was interrupted before it finished, by someone else than Tower: the
    ComfyUI's own Cancel button, another client's interrupt. The stage runs again (a job Tower
    cancelled records its cancel before the error is looked at)."""

    code = "comfy_interrupted"

    def __init__(self, message: str, *, node_id: str | None = None) -> None:
        super().__init__(message, fields={"node_id": node_id or ""})
        self.node_id = node_id


class ComfyProtocolError(PermanentError):
    """The backend answered something this client does not understand (an unexpected 4xx/body)."""

    code = "comfy_protocol_error"


def parse_node_errors(node_errors: dict[str, Any]) -> list[NodeError]:
    """Flatten ComfyUI's `node_errors` object into one NodeError per failing input."""
    found: list[NodeError] = []
    for node_id, entry in (node_errors or {}).items():
        if not isinstance(entry, dict):
            continue
        class_type = str(entry.get("class_type", ""))
        for err in entry.get("errors") or []:
            extra = err.get("extra_info") or {}
            found.append(
                NodeError(
                    node_id=str(node_id),
                    class_type=class_type,
                    input_name=str(extra.get("input_name", "") or ""),
                    type=str(err.get("type", "")),
                    message=str(err.get("message", "")),
                    details=str(err.get("details", "")),
                    received=str(extra.get("received_value", "") or ""),
                )
            )
    return found


def rejection_from_body(body: Any) -> ComfyRejected:
    """Build a ComfyRejected from a `POST /prompt` 400 body (or a 200 with node_errors)."""
    if not isinstance(body, dict):
        return ComfyRejected(f"ComfyUI rejected the prompt: {str(body)[:500]}")
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    errors = parse_node_errors(body.get("node_errors") or {})
    head = str(error.get("message") or "Prompt failed validation")
    if error.get("details") and not errors:
        head = f"{head} ({error['details']})"
    parts = [e.describe() for e in errors]
    message = f"ComfyUI rejected the prompt: {head}" + (": " + "; ".join(parts) if parts else "")
    error_type = str(error.get("type", ""))
    missing = models_not_listed(errors)
    if missing:
        return ComfyModelRejected(message, error_type=error_type, errors=errors, missing=missing)
    node_class = class_not_present(error)
    if node_class:
        return ComfyClassRejected(message, error_type=error_type, node_class=node_class)
    return ComfyRejected(message, error_type=error_type, errors=errors)


def unreadable_prompt(body: Any) -> ComfyRejected:
    """The error of a `POST /prompt` answered 500: ComfyUI's handler raised on the body itself
    (server.py post_prompt: request.json() or validate_prompt outside its per-output try), so
    nothing was queued and any backend would answer the same."""
    text = " ".join(str(body).split())[:300]
    return ComfyRejected(
        f"ComfyUI could not read the prompt (HTTP 500: {text})", error_type="server_error"
    )


# ComfyUI 0.3.64's words for a prompt naming a class it has not loaded (recorded:
# 04_invalid_unknown_class); later servers say `missing_node_type` and name it in extra_info.
_NO_SUCH_CLASS = re.compile(r"Cannot execute because node (.+) does not exist\.")


def class_not_present(error: dict) -> str:
    """The node class a prompt-level error says the backend does not have, or ""."""
    if error.get("type") == "missing_node_type":
        extra = error.get("extra_info")
        return str(extra.get("class_type") or "") if isinstance(extra, dict) else ""
    found = _NO_SUCH_CLASS.fullmatch(str(error.get("message") or ""))
    return found[1] if error.get("type") == "invalid_prompt" and found else ""


def models_not_listed(errors: list[NodeError]) -> list[tuple[str, str]]:
    """(folder, model) of each model file the backend refused as not in its list, when that is
    every error: a prompt refused for anything else would be refused by any backend."""
    found = []
    for error in errors:
        folder = MODEL_INPUTS.get(error.class_type, {}).get(error.input_name)
        if error.type != "value_not_in_list" or folder is None or not error.received:
            return []
        found.append((folder, error.received))
    return found


def is_transient(exc: BaseException) -> bool:
    """Whether retrying (maybe on another backend) could help with this error."""
    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, PermanentError):
        return False
    transient_types = (
        requests.ConnectionError,
        requests.Timeout,
        websocket.WebSocketException,
        ConnectionError,
        TimeoutError,
    )
    return isinstance(exc, transient_types)
