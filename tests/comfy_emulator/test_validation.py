"""POST /prompt validation: the recorded 400 bodies, reproduced exactly (tracebacks aside)."""

from __future__ import annotations

import copy

import pytest
import requests

from tests.comfy_emulator.transcript import Listener, load_json, post_prompt

CATALOG = load_json("05b_validation_error_catalog.json")


def _without_tracebacks(body: object) -> object:
    """Traceback lines name files and line numbers of the real server; drop them."""
    if isinstance(body, dict):
        return {k: _without_tracebacks(v) for k, v in body.items() if k != "traceback"}
    if isinstance(body, list):
        return [_without_tracebacks(v) for v in body]
    return body


@pytest.mark.parametrize("scenario", ["04_invalid_unknown_class", "05_invalid_missing_input"])
def test_recorded_400_and_no_socket_traffic(recorded, scenario):
    listener = Listener(recorded.url)
    request = load_json(f"{scenario}/request.json")
    response = post_prompt(recorded.url, {**request, "client_id": listener.client_id})
    expected = load_json(f"{scenario}/post_prompt_response.json")
    assert response.status_code == expected["http_status"] == 400
    assert response.json() == expected["body"]
    with pytest.raises(Exception):  # noqa: B017 - nothing at all may arrive
        listener.read(timeout=0.3)
    listener.close()


@pytest.mark.parametrize("case", sorted(CATALOG))
def test_error_catalog(recorded, case):
    entry = CATALOG[case]
    body = copy.deepcopy(entry.get("request_body") or {"prompt": entry["request_prompt"]})
    response = post_prompt(recorded.url, body)
    assert response.status_code == entry["http_status"]
    got, want = response.json(), entry["body"]
    if response.status_code == 200:
        assert got["node_errors"] == want["node_errors"]
        assert sorted(got) == sorted(want)
        return
    assert _without_tracebacks(got) == _without_tracebacks(want)
    for node in got["node_errors"].values():
        for error in node["errors"]:
            if "traceback" in error["extra_info"]:
                assert isinstance(error["extra_info"]["traceback"], list)


def test_stage_workflows_as_written_fail_like_the_real_server(recorded):
    recorded_results = load_json("17_stage_workflows/validation_as_written.json")
    for stage, result in recorded_results.items():
        if not isinstance(result["as_written"], dict):
            continue
        prompt = load_json(f"workflows/{stage}.json")
        if stage == "stage2_animatediff_img2vid" or stage == "stage4_svd_img2vid":
            _ensure_keyframe(recorded)
        response = post_prompt(recorded.url, {"prompt": prompt})
        assert response.status_code == 400
        assert response.json() == result["as_written"]["body"], stage


def _ensure_keyframe(emu) -> None:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buffer, "PNG")
    requests.post(
        emu.url + "/upload/image",
        files={"image": ("keyframe.png", buffer.getvalue(), "image/png")},
        data={"subfolder": "job-0001", "overwrite": "true"},
        timeout=10,
    ).raise_for_status()


def test_malformed_bodies_and_disconnected_nodes(recorded):
    edge = load_json("http/misc_edge_cases.json")
    bad = requests.post(recorded.url + "/prompt", data=b"{bad json", timeout=5)
    assert bad.status_code == 500
    assert bad.text == edge["post_prompt_malformed_json"]["body"]
    as_list = requests.post(recorded.url + "/prompt", json={"prompt": [1, 2]}, timeout=5)
    assert as_list.status_code == 500
    case = edge["invalid_node_not_connected_to_any_output_is_ignored"]
    ok = post_prompt(recorded.url, case["request_body"])
    assert ok.status_code == 200 and ok.json()["node_errors"] == {}


def test_counter_advances_on_rejected_posts_and_any_prompt_id_is_accepted(recorded):
    prompt = load_json("01_success/request.json")["prompt"]
    first = post_prompt(recorded.url, {"prompt": prompt, "prompt_id": "farm-job-0001-x"}).json()
    post_prompt(recorded.url, {"prompt": {"1": {"class_type": "Nope", "inputs": {}}}})
    second = post_prompt(recorded.url, {"prompt": prompt}).json()
    assert first["prompt_id"] == "farm-job-0001-x"
    assert second["number"] == first["number"] + 2
    front = post_prompt(recorded.url, {"prompt": prompt, "front": True}).json()
    assert front["number"] == -(second["number"] + 1)
    explicit = post_prompt(recorded.url, {"prompt": prompt, "number": 1000.5}).json()
    assert explicit["number"] == 1000.5
