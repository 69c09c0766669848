"""`tower retake SCENE` on the live farm: one scene of a succeeded episode rendered again; a
job that did not succeed is refused, naming what to do instead."""

from __future__ import annotations

import json
import re

from tower_client.api import TowerClient

from tests.client.cli_runner import call_tower, run_tower
from tests.client.test_validate import small_file


def submitted(result) -> tuple[int, list[int]]:
    """The job id and scene ids `tower submit` printed."""
    found = re.search(r"^submitted job (\d+): .*, scenes ([\d, ]+)$", result.stdout, re.M)
    assert found, result
    return int(found[1]), [int(s) for s in found[2].split(", ")]


def test_retake_renders_one_scene_of_a_succeeded_episode_again(live, config, tmp_path):
    result = run_tower("submit", str(small_file(tmp_path, "retake-ok")), "--watch", config=config)
    assert result.code == 0, f"{result}\n{live.logs()}"
    job, scenes = submitted(result)
    retaken = run_tower("retake", str(scenes[1]), "--seed", "77", "--watch", config=config)
    assert retaken.code == 0, f"{retaken}\n{live.logs()}"
    # The job may already run when the farm answers.
    assert re.search(
        rf"^job {job} (queued|running): retaking scene {scenes[1]}$", retaken.stdout, re.M
    )
    assert f"job {job} succeeded" in retaken.stdout
    with TowerClient(live.url, token=json.loads(config.read_text())["token"]) as client:
        stages = client.status(job)["stages"]
    again = {(s["stage"], s["scene_id"]) for s in stages if s["attempt"] == 2}
    assert again == {
        ("keyframe", scenes[1]),
        ("animate", scenes[1]),
        ("interpolate", scenes[1]),
        ("compile", None),
        ("mix", None),
    }


def test_retake_of_a_cancelled_job_is_refused_and_changes_nothing(capsys, live, config, tmp_path):
    result = call_tower(
        capsys, "submit", str(small_file(tmp_path, "retake-cancelled")), config=config
    )
    assert result.code == 0, result
    job, scenes = submitted(result)
    assert call_tower(capsys, "cancel", str(job), config=config).code == 0
    with TowerClient(live.url, token=json.loads(config.read_text())["token"]) as client:
        before = client.status(job)
        refused = call_tower(capsys, "retake", str(scenes[0]), config=config)
        assert refused.code == 1, refused
        [line] = refused.stderr.strip().splitlines()
        assert line == (
            f"tower: job {job} cancelled; a retake changes one scene of a finished episode: "
            f"retry job {job} (tower retry {job}) or submit the production again"
        ), refused
        after = client.status(job)
    assert after["status"] == "cancelled"
    assert [s["id"] for s in after["stages"]] == [s["id"] for s in before["stages"]]
