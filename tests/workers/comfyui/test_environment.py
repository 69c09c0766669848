"""The client honours the environment's proxy settings, read once when it is made: requests
would read them on every call, a cost each of a stage's dozen calls paid."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.web_server import free_port
from workers.comfyui import ComfyClient, ComfyUnavailable


@pytest.fixture
def proxied(monkeypatch):
    """HTTP_PROXY set to a dead proxy; NO_PROXY as the test says."""

    def setup(no_proxy: str) -> None:
        dead_proxy = f"http://127.0.0.1:{free_port()}"
        for name in ("HTTP_PROXY", "http_proxy"):
            monkeypatch.setenv(name, dead_proxy)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.setenv(name, no_proxy)

    return setup


def test_calls_go_through_the_environments_proxy(emulator: Any, proxied) -> None:
    proxied(no_proxy="")
    with ComfyClient(emulator.url, timeout=(2.0, 5.0)) as client:
        with pytest.raises(ComfyUnavailable):
            client.system_stats()


def test_a_backend_named_in_no_proxy_is_reached_directly(emulator: Any, proxied) -> None:
    proxied(no_proxy="127.0.0.1,localhost")
    with ComfyClient(emulator.url, timeout=(2.0, 5.0)) as client:
        assert "system" in client.system_stats()


def test_the_environment_is_read_when_the_client_is_made_not_on_every_call(
    emulator: Any, monkeypatch
) -> None:
    reads = []
    real = requests.sessions.get_environ_proxies
    monkeypatch.setattr(
        requests.sessions,
        "get_environ_proxies",
        lambda *args, **kwargs: reads.append(args) or real(*args, **kwargs),
    )
    with ComfyClient(emulator.url, timeout=(2.0, 5.0)) as client:
        made = len(reads)
        for _ in range(3):
            client.system_stats()
    assert made == 1
    assert len(reads) == made


def pipe(source: socket.socket, sink: socket.socket) -> None:
    """Copy bytes one way until either side closes."""
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.fixture
def host_rewriting_proxy(emulator: Any) -> Iterator[str]:
    """A proxy in front of the emulator that sets Host to the emulator's own loopback address,
    as nginx's default `proxy_set_header Host $proxy_host` does; its URL names localhost."""
    upstream = urlsplit(emulator.url)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def forward(client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head and (chunk := client.recv(65536)):
            head += chunk
        lines = head.split(b"\r\n")
        lines = [b"Host: " + upstream.netloc.encode() if ln.lower().startswith(b"host:") else ln
                 for ln in lines]  # fmt: skip
        server = socket.create_connection((upstream.hostname, upstream.port))
        server.sendall(b"\r\n".join(lines))
        threading.Thread(target=pipe, args=(server, client), daemon=True).start()
        pipe(client, server)

    def accept() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=forward, args=(client,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://localhost:{port}"
    finally:
        listener.close()


def test_the_socket_opens_behind_a_proxy_that_rewrites_host(host_rewriting_proxy: str) -> None:
    # ComfyUI refuses (403) a loopback request whose Origin names another host than Host; the
    # socket must not send the Origin websocket-client adds by default.
    with ComfyClient(host_rewriting_proxy, timeout=(2.0, 5.0)) as client:
        assert "system" in client.system_stats()
        sock = client.socket(uuid.uuid4().hex)
        sock.open()
        assert sock.is_open
