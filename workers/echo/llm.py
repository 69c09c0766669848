"""The LLM client: one JSON answer from an OpenAI-compatible chat-completions server.

A call has one deadline for everything (waiting for a farm-wide slot, retries, the validation
retry). The answer is streamed and read on a helper thread so a server that trickles tokens
cannot hold the caller past the deadline: the caller stops waiting at the deadline and the
reader drops the stream at its next token.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

import httpx2
import openai
import redis

from shared.errors import brief
from workers.echo.answers import Answer, answer_problem, schema_instructions
from workers.echo.config import LlmConfig
from workers.echo.errors import LlmBadGateway, LlmTimeout
from workers.echo.semaphore import llm_slot

log = logging.getLogger(__name__)

# httpx2 (openai's transport) errors escape the library while a stream is read.
TRANSIENT = (
    openai.APIConnectionError,
    openai.RateLimitError,
    openai.InternalServerError,
    httpx2.TransportError,
)
TIMEOUTS = (openai.APITimeoutError, httpx2.TimeoutException)
CONNECT_S = 5.0


class _Stopped(Exception):
    """The caller gave up on this stream (its deadline passed)."""


class LlmClient:
    """Asks one model for JSON answers under a deadline, within the farm's concurrency limit."""

    def __init__(self, config: LlmConfig, slots: redis.Redis) -> None:
        self.config = config
        self.slots = slots
        # Retries are ours: the library's own would not respect the call's deadline.
        self.openai = openai.OpenAI(
            base_url=config.base_url,
            api_key=config.api_key or "unused",
            max_retries=0,
            organization=None,
            project=None,
        )

    def close(self) -> None:
        """Close the HTTP connections."""
        self.openai.close()

    def __enter__(self) -> LlmClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ask_json(self, system: str, prompt: str, schema: dict[str, Any]) -> Answer:
        """The model's answer to `prompt` as JSON valid against `schema`; a bad answer is asked
        again once with what was wrong.

        :raises LlmTimeout: the deadline passed (504).
        :raises LlmBusy: no farm-wide slot came free before the deadline (504).
        :raises LlmBadGateway: the server is unreachable, refuses, or answered badly twice (502).
        """
        started = time.monotonic()
        deadline = started + self.config.deadline_s
        messages = [
            {"role": "system", "content": f"{system}\n\n{schema_instructions(schema)}"},
            {"role": "user", "content": prompt},
        ]
        with llm_slot(self.slots, limit=self.config.concurrency, deadline=deadline):
            for attempt in (1, 2):
                text = self._complete(messages, deadline)
                data, problem = answer_problem(text, schema)
                if problem is None:
                    latency = time.monotonic() - started
                    log.info("llm answer model=%s latency=%.2f attempts=%d",
                             self.config.model, latency, attempt)  # fmt: skip
                    return Answer(data, self.config.model, latency, attempt)
                log.warning("llm bad answer attempt=%d problem=%s", attempt, brief(problem, 300))
                messages += [
                    {"role": "assistant", "content": text},
                    {
                        "role": "user",
                        "content": f"That answer was not valid: {problem}. Answer again with "
                        "only the JSON object, valid against the schema.",
                    },
                ]
        raise LlmBadGateway(f"the model answered badly twice: {brief(problem, 500)}")

    def _complete(self, messages: list[dict[str, str]], deadline: float) -> str:
        """One chat completion's text, retrying passing failures with backoff.

        :raises LlmTimeout: when the deadline passes.
        :raises LlmBadGateway: when the server refuses or stays unreachable.
        """
        for retry in range(self.config.retries + 1):
            try:
                return self._stream(messages, deadline)
            except TRANSIENT as exc:
                reason = _reason(exc)
                pause = self.config.backoff_s * 2**retry
                if retry == self.config.retries or time.monotonic() + pause >= deadline:
                    if isinstance(exc, TIMEOUTS):
                        raise LlmTimeout(f"the LLM server timed out: {reason}") from exc
                    raise LlmBadGateway(f"the LLM server failed: {reason}") from exc
                log.warning("llm call failed in passing retry=%d reason=%s", retry, reason)
                time.sleep(pause)
            except openai.APIStatusError as exc:
                raise LlmBadGateway(f"the LLM server refused the call: {_reason(exc)}") from exc
            except openai.OpenAIError as exc:
                raise LlmBadGateway(f"the LLM server failed: {_reason(exc)}") from exc
            except ValueError as exc:  # an event of the stream that is not JSON
                raise LlmBadGateway(f"the LLM server's event stream is malformed: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _stream(self, messages: list[dict[str, str]], deadline: float) -> str:
        """The streamed answer's text, given up at the deadline however the server trickles.

        :raises LlmTimeout: when the deadline passes first.
        """
        left = deadline - time.monotonic()
        if left <= 0:
            raise LlmTimeout(f"no answer within {self.config.deadline_s:g} s")
        stop = threading.Event()
        box: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)

        def read() -> None:
            try:
                box.put(("ok", self._read(messages, deadline, stop)))
            except BaseException as exc:  # handed to the caller, which re-raises it
                box.put(("error", exc))

        threading.Thread(target=read, name="llm-stream", daemon=True).start()
        try:
            outcome, value = box.get(timeout=left)
        except queue.Empty:
            stop.set()
            raise LlmTimeout(f"no whole answer within {self.config.deadline_s:g} s") from None
        if outcome == "error":
            if isinstance(value, _Stopped):
                raise LlmTimeout(f"no whole answer within {self.config.deadline_s:g} s")
            raise value
        return value

    def _read(self, messages: list[dict[str, str]], deadline: float, stop: threading.Event) -> str:
        left = max(0.001, deadline - time.monotonic())
        stream = self.openai.chat.completions.create(
            model=self.config.model,
            messages=messages,
            stream=True,
            temperature=0.7,
            timeout=openai.Timeout(left, connect=min(CONNECT_S, left)),
        )
        parts: list[str] = []
        with stream:
            for chunk in stream:
                if stop.is_set() or time.monotonic() > deadline:
                    raise _Stopped()
                if chunk.choices and chunk.choices[0].delta.content:
                    parts.append(chunk.choices[0].delta.content)
        return "".join(parts)


def _reason(exc: Exception) -> str:
    """A short reason from an openai error: the server's message when it sent one."""
    status = getattr(exc, "status_code", None)
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return brief(f"HTTP {status}: {message}" if status else message, 500)
