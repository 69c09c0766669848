"""The client honours the environment's proxy settings, read once when it is made: requests
would read them on every call, a cost each of a stage's dozen calls paid."""

from __future__ import annotations

from typing import Any

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
