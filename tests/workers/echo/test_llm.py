"""The LLM client against a real OpenAI-compatible server process: answers, bad answers,
timeouts, a server that is down, and one that trickles."""

from __future__ import annotations

import json
import socket
import time

import pytest

from workers.echo.config import LlmConfig
from workers.echo.errors import LlmBadGateway, LlmBusy, LlmTimeout
from workers.echo.llm import LlmClient
from workers.echo.semaphore import llm_slot

SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "count": {"type": "integer"}},
    "required": ["title", "count"],
}
GOOD = json.dumps({"title": "Rain", "count": 3})


def config(url: str, **changes) -> LlmConfig:
    """A config for the test server with short bounds."""
    values = {"deadline_s": 10.0, "retries": 2, "backoff_s": 0.05, "concurrency": 4}
    return LlmConfig(base_url=url, model="test-model", **(values | changes))


def ask(cfg: LlmConfig, slots) -> object:
    with LlmClient(cfg, slots) as client:
        return client.ask_json("You write anime.", "A title please.", SCHEMA)


def test_good_answer_is_parsed_and_validated(llm_server, slots):
    llm_server.script({"content": f"```json\n{GOOD}\n```"})
    answer = ask(config(llm_server.url), slots)
    assert answer.data == {"title": "Rain", "count": 3}
    assert (answer.model, answer.attempts) == ("test-model", 1)
    (request,) = llm_server.requests()
    assert request["model"] == "test-model" and request["stream"] is True
    assert "JSON Schema" in request["messages"][0]["content"]


def test_malformed_then_good_answer_retries_with_the_problem(llm_server, slots):
    llm_server.script({"content": "{not json"}, {"content": GOOD})
    answer = ask(config(llm_server.url), slots)
    assert answer.data["count"] == 3 and answer.attempts == 2
    second = llm_server.requests()[1]["messages"]
    assert second[-2] == {"role": "assistant", "content": "{not json"}
    assert "not valid" in second[-1]["content"]


def test_answer_off_schema_twice_is_a_bad_gateway_with_the_reason(llm_server, slots):
    wrong = json.dumps({"title": "Rain", "count": "three"})
    llm_server.script({"content": wrong}, {"content": wrong})
    with pytest.raises(LlmBadGateway) as caught:
        ask(config(llm_server.url), slots)
    assert caught.value.status == 502
    assert "count" in caught.value.message and "integer" in caught.value.message


def test_server_errors_are_retried_then_answered(llm_server, slots):
    llm_server.script({"status": 503, "message": "loading model"}, {"content": GOOD})
    assert ask(config(llm_server.url), slots).data["title"] == "Rain"
    assert len(llm_server.requests()) == 2


def test_refusal_is_a_bad_gateway_at_once(llm_server, slots):
    llm_server.script({"status": 404, "message": "model 'test-model' not found"})
    with pytest.raises(LlmBadGateway) as caught:
        ask(config(llm_server.url), slots)
    assert "not found" in caught.value.message and len(llm_server.requests()) == 1


def test_slow_server_times_out_at_the_deadline(llm_server, slots):
    llm_server.script({"content": GOOD, "delay_s": 8})
    started = time.monotonic()
    with pytest.raises(LlmTimeout) as caught:
        ask(config(llm_server.url, deadline_s=1.5, retries=0), slots)
    assert caught.value.status == 504
    assert time.monotonic() - started < 4


def test_server_that_stalls_after_its_headers_times_out(llm_server, slots):
    llm_server.script({"content": GOOD, "stall_s": 8})
    started = time.monotonic()
    with pytest.raises(LlmTimeout):
        ask(config(llm_server.url, deadline_s=1.5, retries=0), slots)
    assert time.monotonic() - started < 4


def test_garbled_event_stream_is_a_bad_gateway(llm_server, slots):
    garbage = "data: {not json at all\n\n"
    llm_server.script({"raw": garbage}, {"raw": garbage}, {"raw": garbage})
    with pytest.raises(LlmBadGateway):
        ask(config(llm_server.url, retries=0), slots)


@pytest.mark.parametrize("bytewise", [False, True], ids=["tokens", "bytes"])
def test_trickling_server_cannot_hold_the_caller_past_the_deadline(llm_server, slots, bytewise):
    llm_server.script({"content": GOOD * 4, "piece": 2, "trickle_s": 0.3, "bytewise": bytewise})
    started = time.monotonic()
    with pytest.raises(LlmTimeout):
        ask(config(llm_server.url, deadline_s=1.5, retries=0), slots)
    assert time.monotonic() - started < 4


def test_server_that_is_down_is_a_bad_gateway(slots):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(LlmBadGateway) as caught:
        ask(config(f"http://127.0.0.1:{port}/v1", retries=1), slots)
    assert "connect" in caught.value.message.lower()
    assert time.monotonic() - started < 8


def test_farm_wide_limit_makes_callers_wait_until_the_deadline(llm_server, slots):
    llm_server.script({"content": GOOD})
    deadline = time.monotonic() + 5
    with llm_slot(slots, limit=1, deadline=deadline):
        with pytest.raises(LlmBusy):
            ask(config(llm_server.url, concurrency=1, deadline_s=0.5), slots)
    assert ask(config(llm_server.url, concurrency=1), slots).data["count"] == 3
