"""Operators' commands against the live farm: jobs by their production's name, `tower show`
with stage run ids and scene orders, outputs named after the production, offline nodes
removed."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa

from shared.db import db
from shared.models import WorkerNode
from tests.client.cli_runner import call_tower


def test_jobs_name_the_production(capsys, config, finished_job):
    listing = call_tower(capsys, "jobs", config=config)
    assert listing.code == 0, listing
    assert re.search(
        rf"^\s*{finished_job}\s+episode\s+succeeded\s+100%.*Neon Rain · ep 1: Pilot$",
        listing.stdout,
        re.M,
    ), listing


def test_show_lists_every_stage_run_by_id_and_scene_order(capsys, config, finished_job):
    shown = call_tower(capsys, "show", str(finished_job), config=config)
    assert shown.code == 0, shown
    lines = shown.stdout.splitlines()
    assert lines[0].startswith(f"job {finished_job} · Neon Rain · ep 1: Pilot · succeeded · 100%")
    rows = [
        re.match(r"^\s*(\d+)\s+(\w+)(?: of scene (\d+))?\s+(\d+)\s+(\w+)", line)
        for line in lines[2:]
    ]
    assert all(rows), shown
    scenes = {int(r.group(3)) for r in rows if r.group(3)}
    assert scenes == {1, 2, 3, 4}  # the file's scenes, by their order
    assert {r.group(2) for r in rows} >= {"keyframe", "animate", "interpolate", "compile", "mix"}


def test_download_is_named_after_the_production(capsys, config, finished_job, tmp_path: Path):
    result = call_tower(capsys, "download", str(finished_job), "--to", str(tmp_path), config=config)
    assert result.code == 0, result
    assert [Path(line).name for line in result.stdout.split()] == ["neon-rain-ep1-pilot.mp4"]


def test_only_an_offline_node_is_removed(capsys, app, config):
    with app.app_context():
        db.session.add(
            WorkerNode(name="gone-node", hostname="old", comfyui_url="http://x", status="offline")
        )
        db.session.commit()
    refused = call_tower(capsys, "remove-node", "gpu-a", config=config)
    assert refused.code == 1 and "only an offline node" in refused.stderr, refused
    removed = call_tower(capsys, "remove-node", "gone-node", config=config)
    assert removed.code == 0 and removed.stdout.strip() == "node gone-node removed", removed
    with app.app_context():
        assert (
            db.session.scalar(sa.select(WorkerNode).where(WorkerNode.name == "gone-node")) is None
        )
