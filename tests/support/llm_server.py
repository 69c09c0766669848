"""A scripted OpenAI-compatible chat-completions server, run as a real process for tests.

`python -m tests.support.llm_server` listens on loopback (a free port, printed as a JSON line)
and answers POST /v1/chat/completions (streamed or not), and POST /v1/audio/speech (a tone as long
as the text), with the replies a test scripted through
POST /_script, in order: {"content": "..."} with optional "delay_s" before the answer,
"stall_s" after the streamed answer's headers, "trickle_s" between streamed pieces, "piece"
(characters per piece) and "bytewise" (a piece's event sent one byte at a time); {"raw": "..."}
sent as the event stream itself; or {"status": 500, "message": "..."} for an error. GET /_requests
lists what it was asked. It exits by itself after `--lifetime` seconds.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import selectors
import struct
import subprocess
import sys
import threading
import time
import wave
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


class Script:
    """The replies still to give, and the requests received, shared by the handler threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.replies: list[dict[str, Any]] = []
        self.default: dict[str, Any] | None = None
        self.requests: list[dict[str, Any]] = []

    def next_reply(self, body: dict[str, Any]) -> dict[str, Any]:
        """Record a request and take the reply for it."""
        with self.lock:
            self.requests.append(body)
            if self.replies:
                return self.replies.pop(0)
            return self.default or {"status": 500, "message": "no scripted reply left"}


class Handler(BaseHTTPRequestHandler):
    """The OpenAI-compatible endpoint and the test's control endpoints."""

    script: Script

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        sys.stderr.write(f"llm-server {self.command} {self.path} {format % args}\n")

    def send_json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def do_GET(self) -> None:  # noqa: N802 - stdlib's name
        if self.path == "/_requests":
            with self.script.lock:
                self.send_json(200, list(self.script.requests))
        else:
            self.send_json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:  # noqa: N802 - stdlib's name
        body = self.read_body()
        if self.path == "/_script":
            with self.script.lock:
                self.script.replies = list(body.get("replies", []))
                self.script.default = body.get("default")
                self.script.requests.clear()
            self.send_json(200, {"ok": True})
        elif self.path.endswith("/chat/completions"):
            self.answer(body, self.script.next_reply(body))
        elif self.path.endswith("/audio/speech"):
            self.speech(body, self.script.next_reply(body))
        else:
            self.send_json(404, {"error": {"message": "not found"}})

    def answer(self, body: dict[str, Any], reply: dict[str, Any]) -> None:
        time.sleep(float(reply.get("delay_s", 0)))
        if "status" in reply:
            self.send_json(reply["status"], {"error": {"message": reply.get("message", "")}})
            return
        content, model = reply.get("content", ""), body.get("model", "test-model")
        if not body.get("stream"):
            self.send_json(200, completion(model, content))
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.wfile.flush()
        time.sleep(float(reply.get("stall_s", 0)))
        if "raw" in reply:
            self.wfile.write(reply["raw"].encode())
            return
        size = int(reply.get("piece", 16))
        for start in range(0, max(1, len(content)), size):
            event = f"data: {json.dumps(chunk(model, content[start : start + size]))}\n\n"
            self.send_event(event.encode(), reply)
        self.send_event(b"data: [DONE]\n\n", {})

    def speech(self, body: dict[str, Any], reply: dict[str, Any]) -> None:
        if "status" in reply:
            self.send_json(reply["status"], {"error": {"message": reply.get("message", "")}})
            return
        data = tone_wav(0.06 * len(body.get("input", "")))
        self.send_response(200)
        self.send_header("Content-Type", "audio/wav")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_event(self, event: bytes, reply: dict[str, Any]) -> None:
        pause = float(reply.get("trickle_s", 0))
        if reply.get("bytewise"):
            for i in range(len(event)):
                self.wfile.write(event[i : i + 1])
                self.wfile.flush()
                time.sleep(pause)
            return
        self.wfile.write(event)
        self.wfile.flush()
        time.sleep(pause)


def tone_wav(seconds: float, rate: int = 24000) -> bytes:
    """A 16-bit mono WAV of a 220 Hz tone, standing in for speech."""
    frames = int(seconds * rate)
    samples = (int(12000 * math.sin(2 * math.pi * 220 * i / rate)) for i in range(frames))
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        audio.writeframes(b"".join(struct.pack("<h", v) for v in samples))
    return out.getvalue()


def completion(model: str, content: str) -> dict[str, Any]:
    """A whole chat.completion body."""
    message = {"role": "assistant", "content": content}
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
    }


def chunk(model: str, piece: str) -> dict[str, Any]:
    """One chat.completion.chunk of a streamed answer."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "delta": {"role": "assistant", "content": piece}, "finish_reason": None}
        ],
    }


class LlmServer:
    """A running scripted server: .url (its /v1 base), script(), requests(), stop()."""

    def __init__(self, popen: subprocess.Popen, port: int) -> None:
        self.popen = popen
        self.port = port
        self.root = f"http://127.0.0.1:{port}"
        self.url = f"{self.root}/v1"

    def script(self, *replies: dict[str, Any], default: dict[str, Any] | None = None) -> None:
        """Replace the replies still to give (and forget the requests received)."""
        import requests

        body = {"replies": list(replies), "default": default}
        requests.post(f"{self.root}/_script", json=body, timeout=10).raise_for_status()

    def requests(self) -> list[dict[str, Any]]:
        """The chat-completion requests received since the last script."""
        import requests

        return requests.get(f"{self.root}/_requests", timeout=10).json()

    def stop(self) -> None:
        """Terminate the process (and kill it if it lingers)."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        if self.popen.stdout is not None:
            self.popen.stdout.close()


def start_llm_server(*, lifetime_s: float = 900, start_timeout_s: float = 30) -> LlmServer:
    """Start the server process and wait for it to print its port.

    :raises RuntimeError: when it does not start in time.
    """
    popen = subprocess.Popen(
        [sys.executable, "-m", "tests.support.llm_server", "--lifetime", str(lifetime_s)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    selector = selectors.DefaultSelector()
    selector.register(popen.stdout, selectors.EVENT_READ)
    if not selector.select(start_timeout_s):
        popen.kill()
        raise RuntimeError(f"the LLM test server did not start within {start_timeout_s} s")
    line = popen.stdout.readline()
    return LlmServer(popen, json.loads(line)["port"])


def main() -> None:
    """Serve until killed or the lifetime ends."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--lifetime", type=float, default=900.0)
    args = parser.parse_args()
    Handler.script = Script()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Timer(args.lifetime, server.shutdown).start()
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
