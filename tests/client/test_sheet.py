"""The contact sheet from a farm's answers (a real HTTP server with crafted JSON): titled after
the production, every scene in order, those a failed job never reached shown as missing."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image
from tower_client.api import TowerClient
from tower_client.sheet import TILE_WIDTH, TITLE_H, make_contact_sheet, scene_tiles, sheet_title

RED = (220, 30, 30)


def stage(run_id, scene_id, order, status, image=None):
    """A keyframe stage run of a status report."""
    outputs = [{"asset_id": image, "kind": "image", "url": "/x"}] if image else []
    return {
        "id": run_id,
        "scene_id": scene_id,
        "scene_order": order,
        "stage": "keyframe",
        "status": status,
        "attempt": 1,
        "outputs": outputs,
    }


STATUS = {
    "status": "failed",
    "project_name": "Neon Rain",
    "episode_number": 1,
    "episode_title": "Pilot",
    "file_stem": "neon-rain-ep1-pilot",
    "outputs": [],
    "stages": [
        stage(11, 31, 2, "failed"),
        stage(10, 30, 1, "succeeded", image=5),
        stage(12, 32, 3, "skipped"),
        {**stage(13, None, None, "skipped"), "stage": "mix"},
    ],
}


class Farm(BaseHTTPRequestHandler):
    """A job's status, and a red 64x36 PNG for its one keyframe."""

    def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
        if self.path.endswith("/status"):
            self.send(json.dumps(STATUS).encode(), "application/json")
        else:
            out = io.BytesIO()
            Image.new("RGB", (64, 36), RED).save(out, format="PNG")
            self.send(out.getvalue(), "image/png")

    def send(self, data: bytes, mime: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", mime)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def farm_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Farm)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_every_scene_is_on_the_sheet_in_order_and_the_missing_ones_say_so():
    tiles = scene_tiles(STATUS)
    assert [(t.scene, t.asset_id, t.missing) for t in tiles] == [
        (1, 5, ""),
        (2, None, "failed"),
        (3, None, "skipped"),
    ]
    assert sheet_title(STATUS, 8) == "Neon Rain · episode 1: Pilot · job 8 (failed)"


def test_the_sheet_is_named_after_the_production_by_default(farm_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with TowerClient(farm_url, token="t") as client:
        path = make_contact_sheet(client, 8)
    assert path == Path("neon-rain-ep1-pilot-contact-sheet.png") and path.is_file()


def test_the_sheet_has_a_tile_for_each_scene(farm_url, tmp_path: Path):
    with TowerClient(farm_url, token="t") as client:
        path = make_contact_sheet(client, 8, tmp_path / "sheet.png", columns=3)
    with Image.open(path) as sheet:
        sheet = sheet.convert("RGB")
        tile_h = round(TILE_WIDTH * 36 / 64)
        middle = TITLE_H + 8 + tile_h // 2
        first, second = 8 + TILE_WIDTH // 2, 8 + TILE_WIDTH + 8 + TILE_WIDTH // 2
        assert sheet.getpixel((first, middle)) == RED
        assert sheet.getpixel((second, middle + 20)) != RED  # the missing scene's blank tile
        assert sheet.width == 3 * TILE_WIDTH + 4 * 8
