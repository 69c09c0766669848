"""`tower library` and `tower models` against a running farm (the demo library, two emulators)."""

from __future__ import annotations

import json
import re

import pytest
import requests

from tests.client.cli_runner import call_tower
from workers.media.tool import run_ffmpeg


def test_library_lists_its_moods_and_sounds(capsys, config):
    moods = call_tower(capsys, "library", "moods", config=config)
    assert moods.code == 0, moods
    assert {"calm", "tense", "mysterious"} <= set(moods.stdout.split()), moods
    sounds = call_tower(capsys, "library", "sounds", config=config)
    assert sounds.code == 0, sounds
    assert {"whoosh", "hit", "chime", "impact"} <= set(sounds.stdout.split()), sounds


def test_models_lists_the_farms_models_and_a_nodes_own(capsys, config):
    farm = call_tower(capsys, "models", config=config)
    assert farm.code == 0, farm
    assert farm.stdout.startswith("KIND"), farm
    assert re.search(r"^loras\s+hero_a\.safetensors\s+gpu-a,gpu-b$", farm.stdout, re.M), farm
    assert re.search(r"^motion_modules\s+mm_sd_v15_v2\.ckpt\s+gpu-a,gpu-b$", farm.stdout, re.M)
    assert re.search(r"^checkpoints\s+v1-5-pruned-emaonly", farm.stdout, re.M), farm
    own = call_tower(capsys, "models", "--node", "gpu-b", "--kind", "loras", config=config)
    assert own.code == 0, own
    lines = own.stdout.splitlines()[1:]
    assert lines and all(re.match(r"^loras\s+\S+\s+gpu-b$", line) for line in lines), own
    missing = call_tower(capsys, "models", "--node", "nope", config=config)
    assert missing.code == 1 and "not found" in missing.stderr, missing


def test_library_entries_are_added_listed_replaced_and_deleted(capsys, config, tmp_path):
    loop, hit = tmp_path / "rain.wav", tmp_path / "drip.wav"
    run_ffmpeg(["-f", "lavfi", "-i", "sine=f=330:d=4", loop])
    run_ffmpeg(["-f", "lavfi", "-i", "sine=f=990:d=0.3", hit])
    added = call_tower(
        capsys, "library", "add", str(loop), "--kind", "music", "--name", "rain",
        "--tags", "rainy,grey", "--loop", "1", "3.5", config=config,
    )  # fmt: skip
    assert added.code == 0, added
    entry_id = int(re.search(r"\(id (\d+)\)", added.stdout).group(1))
    assert "music 'rain'" in added.stdout and "tags=grey,rainy" in added.stdout
    listing = call_tower(capsys, "library", "list", "--kind", "music", config=config)
    assert re.search(rf"^\s*{entry_id} music\s+rain\s+4\.00s loop 1-3\.5s\s+grey,rainy$",
                     listing.stdout, re.M), listing  # fmt: skip
    assert "rainy" in call_tower(capsys, "library", "moods", config=config).stdout
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF" + b"\0" * 4000)
    refused = call_tower(capsys, "library", "add", str(junk), "--kind", "sfx", config=config)
    assert refused.code == 1 and "not decodable audio" in refused.stderr, refused
    replaced = call_tower(
        capsys, "library", "replace", str(entry_id), str(hit), "--tags", "drip", config=config
    )
    assert replaced.code == 1 and "a music entry lasts 1 to 1800 s" in replaced.stderr, replaced
    deleted = call_tower(capsys, "library", "delete", str(entry_id), config=config)
    assert deleted.code == 0, deleted
    assert "rainy" not in call_tower(capsys, "library", "moods", config=config).stdout


def test_the_episode_status_carries_placements_qc_and_loudness(live, config, finished_job):
    saved = json.loads(config.read_text())
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {saved['token']}"
    report = session.get(f"{live.url}/api/anime/generation/{finished_job}/status").json()
    by_stage = {s["stage"]: s for s in report["stages"] if s["status"] == "succeeded"}
    (video,) = by_stage["compile"]["outputs"]
    assert [p["index"] for p in video["placements"] if p["kind"] == "scene"] == [0, 1, 2, 3]
    assert video["qc"]["passed"] is True and video["qc"]["checks"], video
    assert all("path" not in p and "source" not in p for p in video["placements"])
    (final,) = report["outputs"]
    assert final["loudness"]["integrated_lufs"] == pytest.approx(-16.0, abs=1.5), final
    detail = session.get(f"{live.url}/api/anime/assets/{video['asset_id']}").json()
    assert detail["qc"] == video["qc"] and detail["placements"] == video["placements"]
    assert "qc" not in session.get(f"{live.url}/api/anime/assets/{final['asset_id']}").json()

    page = requests.Session()
    login = page.post(
        f"{live.url}/auth/login",
        json={"email": live.email, "password": live.password, "session": True},
    )
    assert login.status_code == 200, login.text
    html = page.get(f"{live.url}/dashboard/jobs/{finished_job}").text
    assert 'id="qc"' in html and "passed" in html
    for check in video["qc"]["checks"]:
        assert f'data-check="{check["name"]}"' in html
