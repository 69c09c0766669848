"""One WebSocket per client id: open, receive with a timeout, close, reconnect."""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import websocket

from workers.comfyui.errors import ComfyUnavailable

logger = logging.getLogger(__name__)

STASH_PROMPTS = 4
SUBMITTED_KEPT = 16
STASH_FRAMES = 2000
# Only frames a follower turns into events are kept (progress_state can be large and is unused).
STASH_TYPES = frozenset(
    {
        "execution_start",
        "execution_cached",
        "executing",
        "progress",
        "executed",
        "execution_success",
        "execution_error",
        "execution_interrupted",
    }
)


def ws_url(base_url: str, client_id: str) -> str:
    """The `/ws?clientId=` URL for an http(s) base URL."""
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    path = parts.path.rstrip("/") + "/ws"
    return urlunsplit((scheme, parts.netloc, path, f"clientId={quote(client_id)}", ""))


class ComfySocket:
    """The WebSocket of one client id; a worker process keeps one and reuses it for every prompt.

    ComfyUI routes a client id to its newest socket, and closing an older socket with the same
    id unregisters the newer one, so a reconnect always closes the old socket first.
    """

    def __init__(self, base_url: str, client_id: str, *, connect_timeout: float = 5.0) -> None:
        self.client_id = client_id
        self.url = ws_url(base_url, client_id)
        self.connect_timeout = connect_timeout
        self._ws: websocket.WebSocket | None = None
        self._stash: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        self._connection = 0  # counts successful opens: which connection is up
        self._submitted: OrderedDict[str, int] = OrderedDict()

    @property
    def is_open(self) -> bool:
        """Whether a connection is up (as far as this side knows)."""
        return self._ws is not None and self._ws.connected

    def open(self) -> None:
        """Connect if not connected.

        :raises ComfyUnavailable: the server refused, reset or did not answer in time.
        """
        if self.is_open:
            return
        self.close()
        try:
            # `receive` decodes text itself (bad bytes replaced); websocket-client's own
            # check is pure Python, a few ms per progress message. No Origin header:
            # websocket-client sends one naming the URL's host, and ComfyUI refuses (403) a
            # loopback request whose Origin differs from its Host, as behind a proxy that
            # rewrites Host (server.py create_origin_only_middleware).
            self._ws = websocket.create_connection(
                self.url,
                timeout=self.connect_timeout,
                enable_multithread=True,
                skip_utf8_validation=True,
                suppress_origin=True,
            )
        except (OSError, websocket.WebSocketException) as exc:
            self._ws = None
            raise ComfyUnavailable(f"websocket {self.url} did not open: {exc}") from exc
        self._connection += 1
        logger.debug("comfyui socket open client_id=%s", self.client_id)

    def reconnect(self) -> None:
        """Close the old connection first, then open a new one.

        :raises ComfyUnavailable: the new connection could not be opened.
        """
        self.close()
        self.open()

    def receive(self, timeout: float) -> str | bytes | None:
        """The next frame (text as str, binary as bytes), or None when `timeout` passes first.

        :raises ComfyUnavailable: the socket is closed or dropped (it is then marked closed).
        """
        if self._ws is None or not self._ws.connected:
            raise ComfyUnavailable("websocket is not open")
        try:
            self._ws.settimeout(max(timeout, 0.001))
            opcode, data = self._ws.recv_data(control_frame=False)
        except (TimeoutError, websocket.WebSocketTimeoutException):
            return None
        except (OSError, websocket.WebSocketException) as exc:
            self.close()
            raise ComfyUnavailable(f"websocket dropped: {exc}") from exc
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            self.close()
            raise ComfyUnavailable("websocket closed by the server")
        if opcode == websocket.ABNF.OPCODE_TEXT:
            return data.decode("utf-8", errors="replace")
        return bytes(data)

    def submitted(self, prompt_id: str) -> None:
        """Note a prompt submitted while this connection was up (bounded to the last few)."""
        if not self.is_open:
            return
        self._submitted[prompt_id] = self._connection
        while len(self._submitted) > SUBMITTED_KEPT:
            self._submitted.popitem(last=False)

    def has_every_frame(self, prompt_id: str) -> bool:
        """Whether every frame of the prompt comes on the connection that is up now: it was
        submitted through it (asked once; a reconnect since then may have lost frames)."""
        return self._submitted.pop(prompt_id, None) == self._connection and self.is_open

    def stash(self, prompt_id: str, msg: dict[str, Any]) -> None:
        """Keep a frame of another prompt for its own follower (a pipelined next prompt).

        Bounded: the frames of the last few prompts, a few thousand each.
        """
        if msg.get("type") not in STASH_TYPES:
            return
        frames = self._stash.setdefault(prompt_id, [])
        self._stash.move_to_end(prompt_id)
        if len(frames) < STASH_FRAMES:
            frames.append(msg)
        while len(self._stash) > STASH_PROMPTS:
            self._stash.popitem(last=False)

    def take_stash(self, prompt_id: str) -> list[dict[str, Any]]:
        """The kept frames of a prompt, in arrival order (removed from the stash)."""
        return self._stash.pop(prompt_id, [])

    def close(self) -> None:
        """Close the connection if any; never raises."""
        ws, self._ws = self._ws, None
        if ws is None:
            return
        try:
            ws.close(timeout=0.5)
        except (OSError, websocket.WebSocketException):
            logger.debug("comfyui socket close failed client_id=%s", self.client_id)
