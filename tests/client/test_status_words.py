"""One word for each status everywhere: the progress bars say what the API, `tower jobs` and
the dashboard say (queued, running, succeeded, failed, cancelled, retrying, skipped)."""

from __future__ import annotations

import io
import re

import pytest
from tower_client.bars import StageBars

WORDS = ("queued", "running", "succeeded", "failed", "cancelled", "retrying", "skipped")


def report(status: str) -> dict:
    stages = [
        {"id": i, "scene_id": 10 + i, "stage": "animate", "status": word, "progress": 0.5}
        for i, word in enumerate(WORDS)
    ]
    return {"status": status, "progress": 0.5, "stages": stages}


@pytest.mark.parametrize("interactive", [True, False])
def test_bars_and_lines_use_the_apis_status_words(interactive):
    out = io.StringIO()
    bars = StageBars(7, out, interactive=interactive)
    bars.update(report("running"))
    bars.update(report("failed"))
    bars.close()
    text = out.getvalue()
    shown = set(re.findall(r"[A-Za-z]+", text))
    assert set(WORDS) <= shown, text
    assert not {"done", "FAILED", "retry"} & shown, text


def test_a_succeeded_stage_bar_is_full():
    out = io.StringIO()
    bars = StageBars(7, out, interactive=True)
    bars.update(
        {
            "status": "running",
            "progress": 0.9,
            "stages": [
                {"id": 1, "scene_id": None, "stage": "mix", "status": "succeeded", "progress": 0.4}
            ],
        }
    )
    assert bars.bars[1].n == 100
    bars.close()
