"""Follow one prompt to its end over the WebSocket, with /queue and /history polling as backup."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workers.comfyui.errors import ComfyPromptLost, ComfyTimeout, ComfyUnavailable
from workers.comfyui.events import (
    CurrentNode,
    Done,
    Event,
    Failed,
    Interrupted,
    NodeOutput,
    Queued,
    QueueStatus,
    Started,
    Succeeded,
    decode_frame,
    parse_frame,
    prompt_of,
)
from workers.comfyui.listener import ComfySocket
from workers.comfyui.outcome import (
    ErrorDetail,
    PromptOutcome,
    outcome_from_history,
    submitter_of,
)
from workers.comfyui.outputs import output_files

if TYPE_CHECKING:
    from workers.comfyui.client import ComfyClient

logger = logging.getLogger(__name__)

EventCallback = Callable[[Event], None]


@dataclass(frozen=True)
class FollowSettings:
    """Timings of the follow loop, in seconds."""

    poll_interval: float = 0.5  # /queue+/history polling while the socket is down
    check_interval: float = 2.0  # safety-net polling while the socket is up
    unreachable_grace: float = 10.0  # how long the backend may be unreachable before giving up
    history_grace: float = 3.0  # how long to retry an empty /history after Done
    max_backoff: float = 4.0  # longest wait between reconnect attempts
    drain_seconds: float = 0.5  # how long to wait for the frames of a prompt found finished


class PromptFollower:
    """Follows one prompt until it is over; built per call by ComfyClient.follow."""

    def __init__(
        self,
        client: ComfyClient,
        sock: ComfySocket,
        prompt_id: str,
        *,
        deadline: float,
        on_event: EventCallback | None = None,
        settings: FollowSettings | None = None,
    ) -> None:
        self.client = client
        self.sock = sock
        self.prompt_id = prompt_id
        self.deadline = deadline
        self.on_event = on_event
        self.settings = settings or FollowSettings()
        self._started = False
        self._terminal: Event | None = None
        self._done_seen = False
        self._outputs: dict[str, Any] = {}
        self._last_position: int | None = None
        self._missing = 0
        self._own = False
        self._last_reached = time.monotonic()
        self._backoff = 0.1
        self._next_reconnect = 0.0
        self._next_poll = 0.0

    def run(self) -> PromptOutcome:
        """Block until the prompt is over and return its outcome.

        :raises ComfyTimeout: the deadline passed first.
        :raises ComfyPromptLost: the prompt vanished from queue and history.
        :raises ComfyUnavailable: the backend stayed unreachable past the grace period.
        """
        self._try_open()  # before the first poll, so no frame after it is missed
        for msg in self.sock.take_stash(self.prompt_id):
            if self._take(msg):
                outcome = self._finish()
                self._emit_ending(outcome)
                return outcome
        if self.sock.has_every_frame(self.prompt_id):
            # Submitted through this very connection: its frames all come here, so the socket
            # alone follows it (the safety-net poll still runs every check_interval).
            self._own = True
            self._next_poll = time.monotonic() + self.settings.check_interval
            outcome = None
        else:
            outcome = self._poll(initial=True)
            if outcome is not None and self._own and self.sock.is_open:
                self._drain()  # it ended before we looked: pass on the frames already sent
        while outcome is None:
            now = time.monotonic()
            if now >= self.deadline:
                raise ComfyTimeout(f"prompt {self.prompt_id} did not end before its deadline")
            if self.sock.is_open:
                outcome = self._read_socket(now)
            else:
                outcome = self._wait_offline(now)
        self._emit_ending(outcome)
        return outcome

    def _read_socket(self, now: float) -> PromptOutcome | None:
        """Handle one frame (or a poll when one is due)."""
        wait = max(0.0, min(self._next_poll, self.deadline) - now)
        try:
            frame = self.sock.receive(wait) if wait > 0 else None
        except ComfyUnavailable as exc:
            logger.warning("comfyui socket dropped prompt_id=%s error=%s", self.prompt_id, exc)
            self._next_reconnect = time.monotonic()
            return self._poll()
        if isinstance(frame, str) and (msg := decode_frame(frame)) and self._take(msg):
            return self._finish()
        if time.monotonic() >= self._next_poll:
            return self._poll()
        return None

    def _wait_offline(self, now: float) -> PromptOutcome | None:
        """Socket down: reconnect with backoff, and poll in between."""
        if now >= self._next_reconnect and self._try_open():
            return self._poll()  # frames sent while we were away are lost: reconcile now
        if now >= self._next_poll:
            outcome = self._poll()
            if outcome is not None:
                return outcome
        wake = min(self._next_reconnect, self._next_poll, self.deadline)
        time.sleep(max(0.0, min(wake - time.monotonic(), self.settings.poll_interval)))
        return None

    def _try_open(self) -> bool:
        """One connection attempt; on failure schedule the next one with backoff."""
        try:
            if not self.sock.is_open:
                self.sock.reconnect()
        except ComfyUnavailable as exc:
            logger.info(
                "comfyui socket reconnect failed prompt_id=%s error=%s", self.prompt_id, exc
            )
            self._next_reconnect = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, self.settings.max_backoff)
            return False
        self._backoff = 0.1
        return True

    def _take(self, msg: dict[str, Any]) -> bool:
        """Handle one decoded frame, stashing other prompts' frames; True when ours is over."""
        event = parse_frame(msg, self.prompt_id)
        if event is not None:
            return self._handle(event)
        other = prompt_of(msg)
        if other is not None and other != self.prompt_id:
            self.sock.stash(other, msg)
        return False

    def _handle(self, event: Event) -> bool:
        """React to one event; True when the prompt is over."""
        if isinstance(event, QueueStatus):
            if not self._started:  # the queue moved: refresh our position soon
                self._next_poll = min(self._next_poll, time.monotonic() + 0.2)
            return False
        if isinstance(event, CurrentNode):
            self._next_poll = time.monotonic()  # maybe ours after a reconnect: check
            return False
        if isinstance(event, Started):
            if self._started:  # polling already reported it
                return False
            self._started = True
        elif isinstance(event, NodeOutput):
            self._outputs[event.node] = event.output
        elif isinstance(event, Succeeded | Failed | Interrupted):
            self._terminal = event
        elif isinstance(event, Done):
            self._done_seen = True
            self._emit(event)
            return True
        self._emit(event)
        return False

    def _drain(self) -> None:
        """Hand on the finished prompt's frames already on the socket, until Done (bounded)."""
        stop = min(self.deadline, time.monotonic() + self.settings.drain_seconds)
        while not self._done_seen and (wait := stop - time.monotonic()) > 0:
            try:
                frame = self.sock.receive(wait)
            except ComfyUnavailable:
                return
            if frame is None:
                return
            if isinstance(frame, str) and (msg := decode_frame(frame)):
                self._take(msg)

    def _poll(self, initial: bool = False) -> PromptOutcome | None:
        """Check /queue then /history once; the outcome if the prompt is over."""
        now = time.monotonic()
        interval = (
            self.settings.check_interval if self.sock.is_open else self.settings.poll_interval
        )
        self._next_poll = now + interval
        try:
            snapshot = self.client.queue(timeout=self._http_timeout())
            state = snapshot.state(self.prompt_id)
            entry = (
                None if state else self.client.history(self.prompt_id, timeout=self._http_timeout())
            )
        except ComfyUnavailable as exc:
            if now - self._last_reached > self.settings.unreachable_grace:
                raise ComfyUnavailable(
                    f"backend unreachable while following prompt {self.prompt_id}: {exc}"
                ) from exc
            return None
        self._last_reached = now
        submitter = snapshot.clients.get(self.prompt_id) or submitter_of(
            (entry or {}).get("prompt")
        )
        self._own = submitter == self.sock.client_id
        if entry:
            return outcome_from_history(self.prompt_id, entry)
        if state is None:
            self._missing += 1
            if self._missing >= 3:
                raise ComfyPromptLost(f"prompt {self.prompt_id} is in neither queue nor history")
            self._next_poll = now + 0.1
            return None
        self._missing = 0
        if state == "pending":
            position = snapshot.position(self.prompt_id)
            if position != self._last_position and position is not None:
                self._last_position = position
                self._emit(Queued(position))
        elif not self._started and not (initial and self._own and self.sock.is_open):
            self._started = True  # our socket will not say so (or has not yet): tell now
            self._emit(Started())
        return None

    def _finish(self) -> PromptOutcome:
        """After Done: read /history, retrying briefly while it is still empty."""
        stop = min(self.deadline, time.monotonic() + self.settings.history_grace)
        delay = 0.02
        while True:
            try:
                entry = self.client.history(self.prompt_id, timeout=self._http_timeout())
            except ComfyUnavailable:
                entry = None
            if entry:
                return outcome_from_history(self.prompt_id, entry)
            if time.monotonic() + delay > stop:
                break
            time.sleep(delay)
            delay = min(delay * 2, 0.25)
        logger.warning("comfyui history stayed empty prompt_id=%s", self.prompt_id)
        return self._outcome_from_events()

    def _outcome_from_events(self) -> PromptOutcome:
        """The outcome the socket told us, used only when /history never showed the prompt.

        :raises ComfyUnavailable: the socket never said how the prompt ended either.
        """
        files = output_files(self._outputs)
        event = self._terminal
        if isinstance(event, Succeeded):
            return PromptOutcome(self.prompt_id, "success", dict(self._outputs), files)
        if isinstance(event, Interrupted):
            return PromptOutcome(
                self.prompt_id, "interrupted", dict(self._outputs), files, None, event.node_id
            )
        if isinstance(event, Failed):
            detail = ErrorDetail(
                event.node_id, event.node_type, event.exception_type, event.message, event.model
            )
            return PromptOutcome(self.prompt_id, "error", dict(self._outputs), files, detail)
        raise ComfyUnavailable(f"prompt {self.prompt_id} ended but its history is missing")

    def _emit_ending(self, outcome: PromptOutcome) -> None:
        """Tell the callback how it ended when polling, not the socket, found the end."""
        if self._terminal is None:
            if outcome.status == "success":
                self._emit(Succeeded())
            elif outcome.status == "interrupted":
                self._emit(Interrupted(outcome.interrupted_node))
            elif outcome.error is not None:
                err = outcome.error
                self._emit(
                    Failed(err.node_id, err.node_type, err.exception_type, err.message, err.model)
                )
        if not self._done_seen:
            self._emit(Done())

    def _http_timeout(self) -> tuple[float, float]:
        """The client's (connect, read) timeouts, cut to the time left before the deadline and
        to the unreachable grace: a backend that takes connections but never answers (frozen,
        or cut off behind a proxy) would otherwise hold each poll for the client's whole read
        timeout, and be given up on only after several of them."""
        left = max(0.05, self.deadline - time.monotonic())
        connect, read = self.client.timeout
        return (min(connect, left), min(read, self.settings.unreachable_grace, left))

    def _emit(self, event: Event) -> None:
        """Pass an event to the caller's callback, if any."""
        if self.on_event is not None:
            self.on_event(event)
