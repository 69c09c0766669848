"""What compile and mix read from the rows: every scene's clip, bridge and voiced dialogue, in
episode order, in a number of queries that does not grow with the scenes."""

from __future__ import annotations

from shared.models import Transition
from tasks.cpu_flow import scene_clips
from tests import factories
from tests.support.statements import statements_run
from workers.media.speech import Espeak
from workers.storage import LocalStore


def episode_job(db_session, scenes: int):
    """A job whose scenes all have a finished clip; the first scene hands over through a
    generated bridge and its line is spoken by a character with a voice of their own."""
    episode = factories.make_episode(db_session)
    job = factories.make_job(db_session, kind="episode", project_id=episode.project_id,
                             owner_id=episode.project.owner_id)  # fmt: skip
    hero = factories.make_character(db_session, project_id=episode.project_id, name="Aki",
                                    voice="en+f3")  # fmt: skip
    rows = []
    for order in reversed(range(scenes)):  # made out of order: the episode's order wins
        scene = factories.make_scene(db_session, episode_id=episode.id, order=order)
        for stage in ("animate", "interpolate"):
            run = factories.make_stage_run(db_session, job_id=job.id, scene_id=scene.id,
                                           stage=stage, status="succeeded")  # fmt: skip
            factories.make_asset(db_session, job_id=job.id, stage_run_id=run.id, kind="video",
                                 uri=f"jobs/{job.id}/{scene.id}/{stage}.mp4")  # fmt: skip
        rows.append(scene)
    first = rows[-1]
    first.transition = Transition.GENERATED
    first.dialogue = [{"character_id": hero.id, "text": "hello", "at_s": 0.2}]
    bridge = factories.make_stage_run(db_session, job_id=job.id, scene_id=first.id,
                                      stage="bridge", status="succeeded")  # fmt: skip
    factories.make_asset(db_session, job_id=job.id, stage_run_id=bridge.id, kind="video",
                         uri=f"jobs/{job.id}/bridge.mp4")  # fmt: skip
    compile_run = factories.make_stage_run(db_session, job_id=job.id, stage="compile")
    db_session.flush()
    db_session.expire_all()
    return compile_run, [s.id for s in reversed(rows)]


def read_clips(db_session, run, store):
    """scene_clips, and how many statements it ran."""
    with statements_run(db_session.get_bind()) as statements:
        clips = scene_clips(db_session, run, store, Espeak())
    return clips, len(statements)


def test_clips_come_in_episode_order_with_bridge_and_voiced_lines(db_session, tmp_path):
    run, scene_ids = episode_job(db_session, 3)
    clips, _ = read_clips(db_session, run, LocalStore(tmp_path))
    assert [c.path.name for c in clips] == ["interpolate.mp4"] * 3
    assert [c.path.parent.name for c in clips] == [str(i) for i in scene_ids]
    assert clips[0].bridge is not None and clips[0].bridge.name == "bridge.mp4"
    assert [c.bridge for c in clips[1:]] == [None, None]
    assert clips[0].dialogue == ({"speaker": "Aki", "voice": "en+f3", "text": "hello",
                                  "at_s": 0.2},)  # fmt: skip


def test_the_queries_do_not_grow_with_the_scenes(db_session, tmp_path):
    store = LocalStore(tmp_path)
    few = read_clips(db_session, episode_job(db_session, 2)[0], store)[1]
    many = read_clips(db_session, episode_job(db_session, 20)[0], store)[1]
    assert many == few
