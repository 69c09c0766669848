"""A scripted OpenAI-compatible server process, and a client configured for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from shared.config import Settings
from tests.support.llm_server import LlmServer, start_llm_server
from workers.echo.semaphore import KEY


@pytest.fixture(scope="session")
def llm_server() -> Iterator[LlmServer]:
    """The scripted LLM server, one process for the session."""
    server = start_llm_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def slots(settings: Settings) -> Iterator[redis.Redis]:
    """The test run's Redis, with no LLM slot held."""
    client = redis.Redis.from_url(settings.redis_url)
    client.delete(KEY)
    yield client
    client.delete(KEY)
    client.close()
