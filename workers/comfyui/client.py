"""The ComfyUI client: HTTP calls, prompt submission, following, cancel and re-attach."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import requests

from shared.errors import ValidationError
from workers.comfyui import transfer
from workers.comfyui.capabilities import Capabilities, capabilities_from_object_info
from workers.comfyui.errors import (
    ComfyProtocolError,
    ComfyTimeout,
    ComfyUnavailable,
    rejection_from_body,
    unreadable_prompt,
)
from workers.comfyui.follower import EventCallback, FollowSettings, PromptFollower
from workers.comfyui.listener import ComfySocket
from workers.comfyui.outcome import PromptOutcome, QueueSnapshot, outcome_from_history
from workers.comfyui.outputs import OutputFile, UploadedFile, output_files

logger = logging.getLogger(__name__)

Location = Literal["pending", "running", "done"]
CancelResult = Literal["removed", "interrupted", "succeeded", "failed", "not_found"]
ENDINGS: dict[str, CancelResult] = {
    "success": "succeeded",
    "error": "failed",
    "interrupted": "interrupted",
}


@dataclass(frozen=True)
class SubmitResult:
    """What `POST /prompt` answered for an accepted prompt."""

    prompt_id: str
    number: float
    node_errors: dict[str, Any] = field(default_factory=dict)


def check_prompt_id(prompt_id: str) -> str:
    """Return the id if it is a canonical lowercase hyphenated UUID.

    :raises ValidationError: it is not (newer ComfyUI servers reject anything else).
    """
    try:
        canonical = str(uuid.UUID(prompt_id))
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValidationError(f"prompt_id {prompt_id!r} is not a UUID") from exc
    if canonical != prompt_id:
        raise ValidationError(f"prompt_id {prompt_id!r} is not a canonical lowercase UUID")
    return prompt_id


def backend_session(base_url: str) -> requests.Session:
    """A session for one backend that reads the environment's proxy, CA bundle and .netrc
    settings once, here: requests would read them again on every call (~0.5 ms on this kind of
    machine, and a stage makes a dozen calls)."""
    session = requests.Session()
    settings = session.merge_environment_settings(base_url, {}, None, None, None)
    session.proxies = settings["proxies"]
    session.verify = settings["verify"]
    session.auth = requests.utils.get_netrc_auth(base_url)
    session.trust_env = False
    return session


class ComfyClient:
    """A client of one ComfyUI server; keep one per worker process and use it as a context manager.

    `timeout` is the (connect, read) pair of every HTTP call; follow/cancel take an absolute
    `deadline` on the `time.monotonic()` clock.
    """

    def __init__(
        self,
        base_url: str,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (3.05, 30.0),
        follow_settings: FollowSettings | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.follow_settings = follow_settings or FollowSettings()
        self._own_session = session is None
        self.session = session or backend_session(self.base_url)
        self._sockets: dict[str, ComfySocket] = {}

    def __enter__(self) -> ComfyClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every socket and the session if this client created it."""
        for sock in self._sockets.values():
            sock.close()
        self._sockets.clear()
        if self._own_session:
            self.session.close()

    def request(
        self, method: str, path: str, *, keep_status: Collection[int] = (), **kwargs: Any
    ) -> requests.Response:
        """One HTTP call with the client's timeouts; 5xx and network failures become transient,
        except the statuses in `keep_status`, which are the caller's to read.

        :raises ComfyTimeout: no answer in time.
        :raises ComfyUnavailable: unreachable, reset, or a 5xx answer.
        """
        kwargs.setdefault("timeout", self.timeout)
        url = f"{self.base_url}{path}"
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.Timeout as exc:
            raise ComfyTimeout(f"{method} {path} timed out: {exc}") from exc
        except requests.RequestException as exc:
            raise ComfyUnavailable(f"{method} {path} failed: {exc}") from exc
        if response.status_code >= 500 and response.status_code not in keep_status:
            text = response.text[:300] if not kwargs.get("stream") else ""
            response.close()
            raise ComfyUnavailable(f"{method} {path} answered {response.status_code}: {text}")
        return response

    def get_json(self, path: str, **kwargs: Any) -> Any:
        """GET a JSON body.

        :raises ComfyProtocolError: a 4xx answer or a body that is not JSON.
        """
        response = self.request("GET", path, **kwargs)
        if response.status_code >= 400:
            raise ComfyProtocolError(f"GET {path} answered {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise ComfyProtocolError(f"GET {path} answered a body that is not JSON") from exc

    def socket(self, client_id: str) -> ComfySocket:
        """The one socket of a client id (created, not yet opened, on first use)."""
        sock = self._sockets.get(client_id)
        if sock is None:
            sock = ComfySocket(self.base_url, client_id, connect_timeout=self.timeout[0])
            self._sockets[client_id] = sock
        return sock

    def submit(
        self,
        prompt: dict[str, Any],
        *,
        prompt_id: str,
        client_id: str,
        extra_data: dict[str, Any] | None = None,
        required_outputs: Collection[str] | None = None,
    ) -> SubmitResult:
        """Queue an API-format prompt under a caller-chosen id, opening the socket first.

        A 200 whose node_errors touch an output in `required_outputs` (any output when None)
        is withdrawn from the queue and treated as rejected.

        :raises ValidationError: prompt_id is not a canonical lowercase UUID.
        :raises ComfyRejected: validation failed, or the server could not read the prompt (500).
        :raises ComfyUnavailable: the backend is unreachable or failing.
        """
        check_prompt_id(prompt_id)
        sock = self.socket(client_id)
        try:
            sock.open()
        except ComfyUnavailable as exc:  # follow() reconnects or polls; do not block submit
            logger.warning("comfyui socket not open before submit prompt_id=%s: %s", prompt_id, exc)
        body: dict[str, Any] = {"prompt": prompt, "client_id": client_id, "prompt_id": prompt_id}
        if extra_data:
            body["extra_data"] = extra_data
        # ComfyUI answers 500 only when its handler raised on this very body (not JSON, a prompt
        # that is not an object, a node that is not one): every backend would answer the same.
        response = self.request("POST", "/prompt", json=body, keep_status=(500,))
        try:
            payload = response.json()
        except ValueError:
            payload = response.text
        if response.status_code == 400:
            raise rejection_from_body(payload) from None
        if response.status_code == 500:
            raise unreadable_prompt(payload)
        sock.submitted(prompt_id)
        if response.status_code != 200 or not isinstance(payload, dict):
            raise ComfyProtocolError(f"POST /prompt answered {response.status_code}: {payload}")
        if payload.get("prompt_id") != prompt_id:
            self.delete_pending([str(payload.get("prompt_id"))])
            raise ComfyProtocolError("backend ignored the client-chosen prompt_id (too old?)")
        node_errors = payload.get("node_errors") or {}
        if node_errors and _needs_any(node_errors, required_outputs):
            self.delete_pending([prompt_id])
            self.interrupt(prompt_id)
            raise rejection_from_body(payload)
        if node_errors:
            logger.warning("comfyui dropped outputs prompt_id=%s nodes=%s", prompt_id, node_errors)
        logger.info("comfyui submitted prompt_id=%s number=%s", prompt_id, payload.get("number"))
        return SubmitResult(prompt_id, payload.get("number", 0), node_errors)

    def queue(self, *, timeout: tuple[float, float] | None = None) -> QueueSnapshot:
        """The running and pending prompt ids (pending in run order)."""
        return QueueSnapshot.from_body(self.get_json("/queue", timeout=timeout or self.timeout))

    def history(
        self, prompt_id: str, *, timeout: tuple[float, float] | None = None
    ) -> dict[str, Any] | None:
        """The history entry of a finished prompt, None while queued, running or unknown."""
        body = self.get_json(f"/history/{prompt_id}", timeout=timeout or self.timeout)
        entry = body.get(prompt_id) if isinstance(body, dict) else None
        return entry or None

    def locate(self, prompt_id: str) -> Location | None:
        """Where a prompt is: pending, running, done, or None when the server never saw it."""
        state = self.queue().state(prompt_id)  # queue first: a prompt leaves it only for history
        if state is not None:
            return state
        return "done" if self.history(prompt_id) else None

    def outcome(self, prompt_id: str) -> PromptOutcome | None:
        """The outcome of a finished prompt, None if it is not in the history."""
        entry = self.history(prompt_id)
        return outcome_from_history(prompt_id, entry) if entry else None

    def follow(
        self,
        prompt_id: str,
        *,
        client_id: str,
        deadline: float,
        on_event: EventCallback | None = None,
    ) -> PromptOutcome:
        """Block until the prompt is over (socket events, polling as backup); works for re-attach.

        :raises ComfyTimeout: `deadline` (time.monotonic()) passed first.
        :raises ComfyPromptLost: the prompt vanished (backend restarted).
        :raises ComfyUnavailable: the backend stayed unreachable.
        """
        follower = PromptFollower(
            self,
            self.socket(client_id),
            prompt_id,
            deadline=deadline,
            on_event=on_event,
            settings=self.follow_settings,
        )
        return follower.run()

    def interrupt(self, prompt_id: str) -> None:
        """Interrupt a prompt if it is the running one (never without a prompt id)."""
        check_prompt_id(prompt_id)
        self.request("POST", "/interrupt", json={"prompt_id": prompt_id}).close()

    def take_off(self, prompt_id: str) -> None:
        """Remove a prompt from the queue if pending, interrupt it if running (without waiting
        to see how it ended; `cancel` reports that)."""
        self.delete_pending([prompt_id])
        self.interrupt(prompt_id)

    def delete_pending(self, prompt_ids: list[str]) -> None:
        """Remove pending prompts from the queue (running ones are not touched)."""
        self.request("POST", "/queue", json={"delete": prompt_ids}).close()

    def cancel(self, prompt_id: str, *, client_id: str, deadline: float) -> CancelResult:
        """Stop one prompt and report how it really ended; other prompts are left alone.

        :raises ComfyUnavailable: the backend is unreachable, or the deadline passed.
        """
        for _ in range(5):
            where = self.locate(prompt_id)
            if where == "pending":
                self.delete_pending([prompt_id])
                where = self.locate(prompt_id)
                if where is None:
                    return "removed"
            if where is None:
                return "not_found"
            if where == "done":
                ended = self.outcome(prompt_id)
                return ENDINGS[ended.status] if ended else "not_found"
            if where == "running":
                self.interrupt(prompt_id)
                outcome = self.follow(prompt_id, client_id=client_id, deadline=deadline)
                return ENDINGS[outcome.status]
        raise ComfyTimeout(f"prompt {prompt_id} could not be cancelled")

    @staticmethod
    def output_files(outputs: dict[str, Any]) -> list[OutputFile]:
        """Every file in a history `outputs` mapping."""
        return output_files(outputs)

    def download(self, file: OutputFile, dest: Path, *, durable: bool = True) -> Path:
        """Stream one output file to `dest` (atomically, memory flat); returns `dest`.
        `durable=False`: the caller fsyncs it later, with others (transfer.make_durable)."""
        return transfer.download(self, file, Path(dest), durable=durable)

    def upload_image(
        self, path: Path, *, subfolder: str, name: str | None = None, overwrite: bool = True
    ) -> UploadedFile:
        """Upload an input file; use the returned name (the server may rename it)."""
        return transfer.upload(
            self, Path(path), subfolder=subfolder, name=name, overwrite=overwrite
        )

    def system_stats(self) -> dict[str, Any]:
        """`/system_stats`: versions, RAM, devices and VRAM (a health probe)."""
        return self.get_json("/system_stats")

    def object_info(self, node_class: str | None = None) -> dict[str, Any]:
        """`/object_info` for every class, or for one class ({} when unknown)."""
        path = "/object_info" if node_class is None else f"/object_info/{quote(node_class)}"
        return self.get_json(path)

    def capabilities(self) -> Capabilities:
        """Node classes and model files this backend has."""
        return capabilities_from_object_info(self.object_info())


def _needs_any(node_errors: dict[str, Any], required: Collection[str] | None) -> bool:
    """Whether a failing node feeds an output the caller needs."""
    if required is None:
        return True
    for entry in node_errors.values():
        dependents = set(map(str, (entry or {}).get("dependent_outputs") or []))
        if dependents & set(map(str, required)) or not dependents:
            return True
    return False
