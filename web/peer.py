"""Whether the client of a long response (a live event stream) is still there.

A stream only learns that its client left when a write fails, and an idle stream writes a
keepalive every heartbeat (15 s); the first write after the client left usually succeeds
into the kernel's buffer, so the stream (and the slot it holds against the per-user and
per-job caps) lived on for up to a lease (45 s). An SSE client sends nothing after its
request, so its socket turning readable with nothing to read means it closed its end.
"""

from __future__ import annotations

import select
import socket
from typing import Any

# gunicorn puts the client's socket in the WSGI environ; other servers do not (no check).
SOCKET_KEY = "gunicorn.socket"


class Peer:
    """The client end of one request's connection."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self._sock = environ.get(SOCKET_KEY)

    def left(self) -> bool:
        """Whether the client closed or reset its connection (False when it cannot tell, as
        on a TLS socket, whose readable bytes may be records, or without a socket)."""
        if self._sock is None:
            return False
        try:
            readable, _, _ = select.select([self._sock], [], [], 0)
            return bool(readable) and self._sock.recv(1, socket.MSG_PEEK) == b""
        except (ConnectionError, TimeoutError):
            return True
        except (OSError, ValueError):  # a closed descriptor, or flags a TLS socket refuses
            return False
