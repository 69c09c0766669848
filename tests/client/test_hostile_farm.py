"""The client against a hostile farm (a real HTTP server answering crafted JSON): downloaded
outputs land inside the chosen folder whatever names the farm sends."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from tower_client.api import TowerClient
from tower_client.errors import UnsafeResponseError

ESCAPE = "x/../../../../escaped"  # from <tmp>/deep/er/out up to <tmp>
ASSETS = {
    7: {"id": 7, "kind": ESCAPE, "job_id": 1, "mime_type": "video/mp4"},
    8: {"id": 8, "kind": "image", "job_id": 1, "mime_type": "image/png"},
}
STATUS = {
    "outputs": [{"asset_id": 7, "kind": "video", "url": "/x"}],
    "stages": [
        {"stage": ESCAPE, "scene_id": "/etc", "outputs": [{"asset_id": 8, "kind": "image"}]}
    ],
}


class HostileFarm(BaseHTTPRequestHandler):
    """Answers a job's status and its assets with names that climb out of any folder."""

    status = STATUS

    def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
        parts = self.path.strip("/").split("/")
        if self.path.endswith("/status"):
            self.send_json(self.status)
        elif self.path.endswith("/content"):
            self.send_body(f"content of {parts[-2]}".encode(), "application/octet-stream")
        else:
            self.send_json(ASSETS[int(parts[-1])])

    def send_json(self, body: object) -> None:
        self.send_body(json.dumps(body).encode(), "application/json")

    def send_body(self, data: bytes, mime: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", mime)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        """Quiet: the test reads its own assertions."""


@pytest.fixture
def farm_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), HostileFarm)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


def test_hostile_names_are_written_inside_the_target_folder(farm_url, tmp_path: Path):
    target = tmp_path / "deep" / "er" / "out"
    with TowerClient(farm_url, token="t") as client:
        paths = client.download_outputs(1, target, stages=True)

    assert [p.name for p in paths] == ["job1.mp4", "job1-sceneid_etc-x_escaped-8.png"]
    assert all(p.parent == target for p in paths)
    assert files_under(tmp_path) == set(paths)
    assert paths[0].read_bytes() == b"content of 7"


def test_outputs_are_named_after_the_production_whatever_it_sends(
    farm_url, tmp_path: Path, monkeypatch
):
    status = {
        **STATUS,
        "file_stem": "../../neon-rain-ep1-pilot",
        "stages": [{**STATUS["stages"][0], "scene_id": 5, "scene_order": "0/.."}],
    }
    monkeypatch.setattr(HostileFarm, "status", status)
    with TowerClient(farm_url, token="t") as client:
        paths = client.download_outputs(1, tmp_path / "out", stages=True)
    assert [p.name for p in paths] == [
        "neon-rain-ep1-pilot.mp4",
        "neon-rain-ep1-pilot-scene0-x_escaped-8.png",
    ]
    assert files_under(tmp_path) == set(paths)


def test_a_malformed_asset_id_is_refused(farm_url, tmp_path: Path, monkeypatch):
    monkeypatch.setattr(
        HostileFarm, "status", {"outputs": [{"asset_id": "../../auth/tokens"}], "stages": []}
    )
    with TowerClient(farm_url, token="t") as client, pytest.raises(UnsafeResponseError):
        client.download_outputs(1, tmp_path)
    assert not files_under(tmp_path)
