"""Job progress: weights by expected cost, 1.0 only at success, and the ETA from the rate."""

from __future__ import annotations

import pytest

from shared.job_progress import (
    CPU_SHARE,
    EtaEstimator,
    StageCost,
    current_stage,
    gpu_weight,
    job_fraction,
    latest_attempts,
    stage_fraction,
    weigh_stages,
)


def cost(
    stage: str,
    status: str = "queued",
    progress: float = 0.0,
    *,
    scene: int | None = 1,
    attempt: int = 1,
    **inputs,
) -> StageCost:
    return StageCost(
        stage=stage,
        scene_id=scene,
        attempt=attempt,
        status=status,
        progress=progress,
        inputs=inputs,
    )


def test_gpu_stages_weigh_steps_times_frames():
    assert gpu_weight({"steps": 20, "frames": 16}) == 320
    assert gpu_weight({"steps": 25}) == 25
    assert gpu_weight({"frames": "bad", "steps": -3}) == 20  # defaults for nonsense


def test_progress_follows_the_expensive_stage():
    costs = [
        cost("keyframe", "succeeded", steps=20, frames=1),
        cost("animate", "running", 0.5, steps=20, frames=16),
        cost("interpolate", steps=1, frames=32),
    ]
    done, total = weigh_stages(costs)
    assert total == 20 + 320 + 32
    assert done == pytest.approx(20 + 160)
    assert job_fraction(costs, "running") == pytest.approx(180 / 372)


def test_cpu_stages_weigh_a_small_share_of_the_gpu_work():
    costs = [
        cost("keyframe", "succeeded", steps=10),
        cost("compile", scene=None),
        cost("mix", scene=None),
    ]
    done, total = weigh_stages(costs)
    assert total == pytest.approx(10 + 2 * 10 * CPU_SHARE, abs=2)
    assert 0.8 < done / total < 1.0


def test_one_only_when_the_job_succeeded():
    finished = [cost("keyframe", "succeeded"), cost("compile", "succeeded", scene=None)]
    assert job_fraction(finished, "running") < 1.0
    assert job_fraction(finished, "succeeded") == 1.0
    assert job_fraction([], "running") == 0.0
    assert stage_fraction(cost("animate", "running", 1.0)) < 1.0


def test_step_counts_stand_in_for_missing_progress():
    run = StageCost(
        stage="animate", scene_id=1, attempt=1, status="running", progress=0.0, step=5, step_max=20
    )
    assert stage_fraction(run) == 0.25


def test_only_the_latest_attempt_counts():
    costs = [cost("animate", "failed", 0.9, attempt=1), cost("animate", "running", 0.1, attempt=2)]
    (latest,) = latest_attempts(costs)
    assert latest.attempt == 2
    assert job_fraction(costs, "running") == pytest.approx(0.1)


def test_current_stage_is_the_furthest_running_one():
    costs = [
        cost("keyframe", "running", scene=1),
        cost("animate", "running", scene=2),
        cost("mix", scene=None),
    ]
    assert current_stage(costs) == "animate"
    assert current_stage([cost("keyframe", "succeeded")]) is None


def test_eta_comes_from_the_observed_rate():
    eta = EtaEstimator(alpha=1.0, min_interval_s=0.5)
    assert eta.observe(0, 100, now=0.0) is None
    assert eta.observe(10, 100, now=1.0) == pytest.approx(9.0)  # 10 units/s, 90 left
    assert eta.observe(30, 100, now=2.0) == pytest.approx(3.5)  # 20 units/s, 70 left
    # Samples closer than the interval keep the rate and only update what is left.
    assert eta.observe(40, 100, now=2.1) == pytest.approx(3.0)


def test_eta_is_unknown_until_work_moves():
    eta = EtaEstimator()
    eta.observe(0, 10, now=0.0)
    assert eta.observe(0, 10, now=5.0) is None
