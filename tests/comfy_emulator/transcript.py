"""Helpers for comparing live emulator traffic with the recorded transcripts."""

from __future__ import annotations

import json
import struct
import time
import uuid
from pathlib import Path
from typing import Any

import requests
import websocket

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "comfyui"
NOISY = {"progress", "progress_state", "binary"}


def fixtures_dir() -> Path:
    """The real ComfyUI recordings, copied into the repository (tests/fixtures/comfyui)."""
    return FIXTURES


def load_json(relative: str) -> Any:
    """A fixture JSON file."""
    return json.loads((fixtures_dir() / relative).read_text(encoding="utf-8"))


def load_ws(relative: str) -> list[dict[str, Any]]:
    """A recorded ws.jsonl as a list of records."""
    lines = (fixtures_dir() / relative).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def omitted_types(records: list[dict[str, Any]]) -> set[str]:
    """Frame kinds the recording dropped (its 'note' line)."""
    out: set[str] = set()
    for record in records:
        if record.get("kind") == "note":
            out |= set(record.get("omitted_message_counts", {}))
    return out


def shape(records: list[dict[str, Any]], drop: set[str] = frozenset()) -> list[tuple]:
    """Comparable skeleton: (type, node or node states) per frame, minus dropped kinds."""
    out: list[tuple] = []
    for record in records:
        kind = record.get("kind")
        if kind == "binary":
            if "binary" not in drop:
                out.append(("binary", record["event_type"]))
            continue
        if kind != "text":
            continue
        msg = record["msg"]
        kind = msg["type"]
        if kind in drop:
            continue
        data = msg["data"]
        if kind == "progress_state":
            key: Any = tuple(sorted((n, s["state"]) for n, s in data["nodes"].items()))
        elif kind == "progress":
            key = (data["node"], data["value"], data["max"])
        elif kind == "execution_cached":
            key = tuple(sorted(data["nodes"]))
        elif kind in ("status", "feature_flags"):
            key = None
        else:
            key = data.get("node", data.get("node_id"))
        out.append((kind, key))
    return out


def field_names(records: list[dict[str, Any]]) -> list[tuple[str, tuple[str, ...]]]:
    """(type, sorted data keys) of every text frame."""
    return [
        (r["msg"]["type"], tuple(sorted(r["msg"]["data"])))
        for r in records
        if r.get("kind") == "text"
    ]


class Listener:
    """A websocket-client connection recording frames in the fixtures' record format."""

    def __init__(self, base_url: str, client_id: str | None = None, flags: bool = False) -> None:
        self.client_id = client_id if client_id is not None else uuid.uuid4().hex
        query = f"?clientId={self.client_id}" if self.client_id else ""
        ws_url = base_url.replace("http://", "ws://") + "/ws" + query
        self.ws = websocket.create_connection(ws_url, timeout=10)
        self.records: list[dict[str, Any]] = []
        self.read()  # the greeting status
        if flags:
            self.ws.send(
                json.dumps({"type": "feature_flags", "data": {"supports_preview_metadata": True}})
            )
            self.read()

    def read(self, timeout: float = 10.0) -> dict[str, Any]:
        """One frame as a record."""
        self.ws.settimeout(timeout)
        opcode, payload = self.ws.recv_data()
        if opcode == websocket.ABNF.OPCODE_TEXT:
            record = {"kind": "text", "msg": json.loads(payload.decode("utf-8"))}
        elif opcode == websocket.ABNF.OPCODE_BINARY:
            record = describe_binary(payload)
        else:
            raise ConnectionError(f"socket closed (opcode {opcode})")
        self.records.append(record)
        return record

    def until_done(self, prompt_id: str, deadline: float = 60.0) -> list[dict[str, Any]]:
        """Read until executing{node: null} for prompt_id; returns every record so far."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            record = self.read(timeout=max(0.1, end - time.monotonic()))
            msg = record.get("msg") or {}
            data = msg.get("data") or {}
            if (
                msg.get("type") == "executing"
                and data.get("node") is None
                and data.get("prompt_id") == prompt_id
            ):
                return self.records
        raise TimeoutError(f"prompt {prompt_id} did not finish in {deadline}s")

    def close(self) -> None:
        """Close the socket."""
        self.ws.close()


def describe_binary(payload: bytes) -> dict[str, Any]:
    """Summarise a binary frame like the recording client did."""
    event = struct.unpack(">I", payload[:4])[0]
    record: dict[str, Any] = {
        "kind": "binary",
        "len": len(payload),
        "event_type": event,
        "header_hex": payload[:8].hex(),
    }
    if event == 1:
        record["image_type"] = struct.unpack(">I", payload[4:8])[0]
        record["image_magic_hex"] = payload[8:16].hex()
    elif event == 3:
        size = struct.unpack(">I", payload[4:8])[0]
        record["node_id"] = payload[8 : 8 + size].decode()
        record["text"] = payload[8 + size :].decode()
    elif event == 4:
        size = struct.unpack(">I", payload[4:8])[0]
        record["metadata"] = json.loads(payload[8 : 8 + size])
        record["image_magic_hex"] = payload[8 + size : 16 + size].hex()
    return record


def post_prompt(base_url: str, body: dict[str, Any]) -> requests.Response:
    """POST /prompt."""
    return requests.post(base_url + "/prompt", json=body, timeout=10)


def run_prompt(base_url: str, prompt: dict[str, Any], **extra: Any) -> tuple[str, list, dict]:
    """Submit with a fresh socket and wait: (prompt_id, records, history entry)."""
    listener = Listener(base_url)
    try:
        body = {"prompt": prompt, "client_id": listener.client_id, **extra}
        response = post_prompt(base_url, body)
        assert response.status_code == 200, response.text
        prompt_id = response.json()["prompt_id"]
        records = listener.until_done(prompt_id)
    finally:
        listener.close()
    history = requests.get(f"{base_url}/history/{prompt_id}", timeout=10).json()
    return prompt_id, records, history[prompt_id]


def upload(base_url: str, name: str, data: bytes, subfolder: str = "", **fields: str) -> dict:
    """POST /upload/image; returns the JSON body."""
    response = requests.post(
        base_url + "/upload/image",
        files={"image": (name, data, "image/png")},
        data={"subfolder": subfolder, **fields},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()


def node_segments(records: list[dict[str, Any]]) -> tuple[list[tuple], dict[str, list[tuple]]]:
    """(frames not tied to a node, frames per node) with progress_state reduced to changes.

    Lets a test accept any execution order of independent output nodes while still checking
    each node's own messages and the prompt-level frames exactly.
    """
    shared: list[tuple] = []
    per_node: dict[str, list[tuple]] = {}
    previous: dict[str, tuple] = {}
    for record in records:
        if record.get("kind") != "text":
            continue
        msg = record["msg"]
        kind, data = msg["type"], msg["data"]
        if kind == "progress_state":
            for node_id, state in data["nodes"].items():
                now = (state["state"], state["value"], state["max"])
                if previous.get(node_id) != now:
                    per_node.setdefault(node_id, []).append(("progress_state", state["state"]))
                    previous[node_id] = now
        elif kind in ("executing", "executed", "progress") and data.get("node") is not None:
            per_node.setdefault(data["node"], []).append((kind, tuple(sorted(data))))
        else:
            shared.append((kind, tuple(sorted(data))))
    return shared, per_node


def execution_order(records: list[dict[str, Any]]) -> list[str]:
    """Node ids in the order their executing messages arrived."""
    return [
        r["msg"]["data"]["node"]
        for r in records
        if r.get("kind") == "text"
        and r["msg"]["type"] == "executing"
        and r["msg"]["data"].get("node") is not None
    ]


def is_topological(order: list[str], prompt: dict[str, Any]) -> bool:
    """True when every node runs after the nodes it links to (among those executed)."""
    seen: set[str] = set()
    executed = set(order)
    for node_id in order:
        for value in prompt[node_id]["inputs"].values():
            if isinstance(value, list) and len(value) == 2 and value[0] in executed:
                if value[0] not in seen:
                    return False
        seen.add(node_id)
    return True
