"""Which rows a retry redoes: later segments of a segmented stage, the bridges from and to a
scene, and the episode stages (rows in memory; no database needed)."""

from __future__ import annotations

from shared.models import StageRun
from tasks.pipeline.stage_rows import downstream


def rows() -> list[StageRun]:
    """Scenes 1, 2, 3 (animate in two segments for scene 2), bridges 1-2 and 2-3, compile."""
    made = []
    for scene in (1, 2, 3):
        made.append(StageRun(stage="keyframe", scene_id=scene, segment=0, inputs={}))
        for segment in (0, 1) if scene == 2 else (0,):
            made.append(StageRun(stage="animate", scene_id=scene, segment=segment, inputs={}))
        made.append(StageRun(stage="interpolate", scene_id=scene, segment=0, inputs={}))
    made += [
        StageRun(stage="bridge", scene_id=1, segment=0, inputs={"next_scene_id": 2}),
        StageRun(stage="bridge", scene_id=2, segment=0, inputs={"next_scene_id": 3}),
        StageRun(stage="compile", scene_id=None, segment=0, inputs={}),
    ]
    for index, run in enumerate(made, start=1):
        run.id = index
    return made


def names(runs: list[StageRun]) -> set[tuple]:
    return {(r.stage, r.scene_id, r.segment) for r in runs}


def test_a_segment_redoes_the_later_segments_and_what_follows_its_scene():
    runs = rows()
    start = next(r for r in runs if r.stage == "animate" and r.segment == 0 and r.scene_id == 2)
    assert names(downstream(runs, start)) == {
        ("animate", 2, 0),
        ("animate", 2, 1),
        ("interpolate", 2, 0),
        ("bridge", 1, 0),
        ("bridge", 2, 0),
        ("compile", None, 0),
    }


def test_a_bridge_redoes_itself_and_the_episode_stages_only():
    runs = rows()
    start = next(r for r in runs if r.stage == "bridge" and r.scene_id == 2)
    assert names(downstream(runs, start)) == {("bridge", 2, 0), ("compile", None, 0)}


def test_the_first_scene_touches_only_its_own_bridge():
    runs = rows()
    start = next(r for r in runs if r.stage == "interpolate" and r.scene_id == 1)
    assert names(downstream(runs, start)) == {
        ("interpolate", 1, 0),
        ("bridge", 1, 0),
        ("compile", None, 0),
    }
