"""WebSocket routing: one socket per client id, messages queued from any thread in order."""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import uuid
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

PREVIEW_IMAGE = 1
TEXT = 3
PREVIEW_IMAGE_WITH_METADATA = 4
SERVER_FEATURES = {"supports_preview_metadata": True, "max_upload_size": 104857600}


class Hub:
    """The server's sockets and its single ordered outbound message queue."""

    def __init__(self) -> None:
        self.sockets: dict[str, web.WebSocketResponse] = {}
        self.flags: dict[str, dict[str, Any]] = {}
        self.client_id: str | None = None
        self.last_node_id: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Attach to the running loop (called on server start-up)."""
        self._loop = loop
        self._queue = asyncio.Queue()

    def supports_metadata(self, sid: str | None) -> bool:
        """True when that socket announced supports_preview_metadata."""
        if sid is None:
            return False
        return bool(self.flags.get(sid, {}).get("supports_preview_metadata"))

    def send(self, event: str, data: Any, sid: str | None) -> None:
        """Queue a JSON message (sid None = every socket); safe from any thread."""
        self._enqueue(("json", {"type": event, "data": data}, sid))

    def send_binary(self, payload: bytes, sid: str | None) -> None:
        """Queue an already framed binary message; safe from any thread."""
        self._enqueue(("bytes", payload, sid))

    def drop_all(self) -> None:
        """Close every socket (fault injection); safe from any thread."""
        self._enqueue(("drop", None, None))

    def _enqueue(self, item: tuple) -> None:
        if self._loop is None or self._queue is None:
            return
        self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    async def publish(self) -> None:
        """Deliver queued messages forever, in order."""
        assert self._queue is not None
        while True:
            kind, payload, sid = await self._queue.get()
            if kind == "drop":
                for ws in list(self.sockets.values()):
                    await ws.close()
                continue
            targets = list(self.sockets.items()) if sid is None else [(sid, self.sockets.get(sid))]
            for _, ws in targets:
                if ws is None or ws.closed:
                    continue
                try:
                    if kind == "json":
                        await ws.send_str(json.dumps(payload))
                    else:
                        await ws.send_bytes(payload)
                except (ConnectionError, RuntimeError) as exc:
                    log.info("ws send failed sid=%s error=%s", sid, exc)

    async def handle(self, request: web.Request, queue_info: Any) -> web.WebSocketResponse:
        """The /ws handler body: register, greet, answer feature_flags, unregister."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sid = request.rel_url.query.get("clientId", "")
        if sid:
            self.sockets.pop(sid, None)
        else:
            sid = uuid.uuid4().hex
        self.sockets[sid] = ws
        self.flags[sid] = {}
        try:
            await ws.send_str(
                json.dumps({"type": "status", "data": {"status": queue_info(), "sid": sid}})
            )
            if self.client_id == sid and self.last_node_id is not None:
                await ws.send_str(
                    json.dumps({"type": "executing", "data": {"node": self.last_node_id}})
                )
            first = True
            async for msg in ws:
                if msg.type.name != "TEXT":
                    continue
                try:
                    data = json.loads(msg.data)
                except json.JSONDecodeError:
                    continue
                if first and isinstance(data, dict) and data.get("type") == "feature_flags":
                    self.flags[sid] = data.get("data") or {}
                    await ws.send_str(
                        json.dumps({"type": "feature_flags", "data": SERVER_FEATURES})
                    )
                first = False
        finally:
            # Like the real server: closing an old socket also unregisters a newer one.
            self.sockets.pop(sid, None)
            self.flags.pop(sid, None)
        return ws


def frame_preview(image_format: int, data: bytes) -> bytes:
    """Binary type 1: event, image format (1 JPEG, 2 PNG), image bytes."""
    return struct.pack(">II", PREVIEW_IMAGE, image_format) + data


def frame_preview_with_metadata(metadata: dict[str, Any], data: bytes) -> bytes:
    """Binary type 4: event, metadata length, metadata JSON, image bytes."""
    meta = json.dumps(metadata).encode("utf-8")
    return struct.pack(">II", PREVIEW_IMAGE_WITH_METADATA, len(meta)) + meta + data


def frame_text(node_id: str, text: str) -> bytes:
    """Binary type 3: event, node id length, node id, UTF-8 text."""
    node = node_id.encode("utf-8")
    return struct.pack(">II", TEXT, len(node)) + node + text.encode("utf-8")
