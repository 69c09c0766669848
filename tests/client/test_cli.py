"""The `tower` command against a running farm: the demo's production from submit to download."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import imageio_ffmpeg
import pytest
from PIL import Image

from tests.client.cli_runner import call_tower, run_tower
from tests.client.conftest import DEMO


def media_facts(path: Path) -> str:
    """ffmpeg's description of a media file's streams (there is no ffprobe to rely on)."""
    done = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stderr


def test_submit_watch_and_download_the_demo_episode(live, config, finished_job, tmp_path):
    result = run_tower("download", str(finished_job), "--to", str(tmp_path / "out"), config=config)
    assert result.code == 0, result
    files = [Path(line) for line in result.stdout.split()]
    assert len(files) == 1 and files[0].suffix == ".mp4", result
    facts = media_facts(files[0])
    assert "Video: h264" in facts and "256x144" in facts, facts
    assert "Audio: aac" in facts, facts
    hours, minutes, seconds = re.search(r"Duration: (\d+):(\d+):([\d.]+)", facts).groups()
    # Four 2 s scenes; a crossfade and a fade overlap or add a little.
    assert 6.5 <= float(seconds) + 60 * int(minutes) <= 9.5, facts


def test_the_job_is_listed_and_its_keyframes_make_a_contact_sheet(
    capsys, config, finished_job, tmp_path
):
    listing = call_tower(capsys, "jobs", config=config)
    assert listing.code == 0, listing
    assert re.search(rf"^\s*{finished_job}\s+episode\s+succeeded\s+100%", listing.stdout, re.M)
    sheet = tmp_path / "sheet.png"
    result = call_tower(capsys, "sheet", str(finished_job), "--to", str(sheet), config=config)
    assert result.code == 0, result
    with Image.open(sheet) as image:
        assert image.format == "PNG"
        assert image.width > image.height > 0  # two columns, two rows of 16:9 tiles


def test_nodes_lists_both_emulated_backends(capsys, config):
    result = call_tower(capsys, "nodes", config=config)
    assert result.code == 0, result
    assert re.search(r"^gpu-a\s+online", result.stdout, re.M), result
    assert re.search(r"^gpu-b\s+online", result.stdout, re.M), result


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("watch", "999999"), "not found"),
        (("cancel", "999999"), "not found"),
        (("retry", "FINISHED"), ""),
        (("download", "999999"), "not found"),
    ],
)
def test_errors_are_one_line_and_a_non_zero_exit(capsys, config, finished_job, args, message):
    args = tuple(str(finished_job) if a == "FINISHED" else a for a in args)
    result = call_tower(capsys, *args, config=config)
    assert result.code == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tower: "), result
    assert message.lower() in lines[0].lower(), result
    assert "Traceback" not in result.stderr


def test_an_unreachable_server_and_a_missing_login_are_one_line(capsys, tmp_path):
    down = run_tower("--token", "x", "jobs", config=tmp_path / "cli.json", url="http://127.0.0.1:9")
    assert down.code == 1
    assert down.stderr.strip() == (
        "tower: cannot reach Tower at http://127.0.0.1:9: connection refused or dropped"
    ), down
    anonymous = call_tower(capsys, "jobs", config=tmp_path / "cli.json", url="http://127.0.0.1:9")
    assert anonymous.code == 1
    assert anonymous.stderr.strip().startswith("tower: not logged in"), anonymous


def test_a_wrong_password_is_one_line(capsys, live, tmp_path):
    result = call_tower(
        capsys,
        "login",
        "--email",
        live.email,
        "--password",
        "not-the-password",
        config=tmp_path / "cli.json",
        url=live.url,
    )
    assert result.code == 1, result
    assert len(result.stderr.strip().splitlines()) == 1, result
    assert not (tmp_path / "cli.json").exists()


def test_retry_of_one_stage_reruns_it_and_what_follows(capsys, live, config, finished_job):
    from tower_client.api import TowerClient

    saved = json.loads(config.read_text())
    with TowerClient(live.url, token=saved["token"]) as client:
        report = client.status(finished_job)
        animate = next(s for s in report["stages"] if s["stage"] == "animate")
        result = call_tower(
            capsys,
            "retry",
            str(finished_job),
            "--stage",
            str(animate["id"]),
            "--watch",
            config=config,
        )
        assert result.code == 0, f"{result}\n{live.logs()}"
        assert f"job {finished_job} succeeded" in result.stdout
        again = {
            (s["stage"], s["scene_id"])
            for s in client.status(finished_job)["stages"]
            if s["attempt"] == 2
        }
    scene = animate["scene_id"]
    assert again == {("animate", scene), ("interpolate", scene), ("compile", None), ("mix", None)}


def test_a_cancelled_job_ends_the_watch_with_exit_3(capsys, live, config):
    submitted = run_tower("submit", str(DEMO), config=config)
    assert submitted.code == 0, submitted
    job_id = re.search(r"^submitted job (\d+):", submitted.stdout, re.M).group(1)
    cancelled = call_tower(capsys, "cancel", job_id, config=config)
    assert cancelled.code == 0, cancelled
    watched = call_tower(capsys, "watch", job_id, config=config)
    assert watched.code == 3, watched
    assert watched.stderr.strip().splitlines()[-1].startswith(f"tower: job {job_id} cancelled")
