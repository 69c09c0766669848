"""What an integrator reads from a finished job: the final event carries the outputs, stage
events name the ComfyUI node and the GPU node apart, and the status report places each stage."""

from __future__ import annotations

import json

import requests
from tower_client.api import TowerClient
from tower_client.stream import parse_events

GPU_STAGES = ("keyframe", "animate", "interpolate")


def test_a_finished_jobs_events_and_report_tell_where_and_what(live, config, finished_job):
    token = json.loads(config.read_text())["token"]
    with TowerClient(live.url, token=token) as client:
        events = list(client.events(finished_job))
        report = client.status(finished_job)

    final = events[-1]
    assert final.kind == "job" and final.data["status"] == "succeeded"
    assert report["outputs"] and final.data["outputs"] == report["outputs"]

    running = [
        e.data
        for e in events
        if e.kind == "stage" and e.data["status"] == "running" and e.data["stage"] in GPU_STAGES
    ]
    assert running and {d["backend"] for d in running} <= set(live.farm.emulators)
    named = [d for d in running if d["comfy_node"] is not None]
    assert named and all(d["node"] == d["comfy_node"] for d in named)

    assert report["project_id"] > 0 and report["episode_id"] > 0 and report["priority"] == 5
    scenes = [s for s in report["stages"] if s["scene_id"] is not None]
    assert {s["scene_order"] for s in scenes} == {1, 2, 3, 4}  # the file's scenes, in order
    for stage in report["stages"]:
        if stage["status"] == "succeeded":
            assert stage["queued_at"] <= stage["started_at"] <= stage["finished_at"], stage


def test_a_stream_token_opens_the_events_without_credentials(live, config, finished_job):
    token = json.loads(config.read_text())["token"]
    with TowerClient(live.url, token=token) as client:
        granted = client.stream_token(finished_job)
    with requests.get(f"{live.url}{granted['events_url']}", stream=True, timeout=30) as response:
        assert response.status_code == 200
        events = list(parse_events(response.iter_lines(decode_unicode=True)))
    assert events[-1].kind == "job" and events[-1].data["status"] == "succeeded"
    with TowerClient(live.url, token=token) as client:
        other = client.stream_token(finished_job)["token"]
    path = f"/api/anime/generation/{finished_job + 1000}/events?stream_token={other}"
    assert requests.get(f"{live.url}{path}", timeout=30).status_code == 403
