"""A worker takes turns between its queues: a message on a node's own queue (a re-routed or
retried stage) does not wait until the shared queue's backlog is gone."""

from __future__ import annotations

import uuid

from tests.support.processes import start_celery_worker, wait_for

BACKLOG = 10


def test_a_message_on_the_nodes_own_queue_is_not_starved_by_the_shared_backlog(
    settings, celery_app, log_dir, tmp_path
):
    tag = uuid.uuid4().hex[:8]
    shared, own = f"order-shared-{tag}", f"order-own-{tag}"
    worker = start_celery_worker(
        settings.as_environ(),
        log_dir,
        queues=f"{shared},{own}",
        name=f"order-{tag}",
        concurrency=1,
        extra=["--include", "tests.tasks.broker_tasks"],
    )
    started, release = tmp_path / "started", tmp_path / "release"
    try:
        # The worker's one slot held (unacknowledged, so it fetches nothing more) while the
        # backlog and then the node's own message are queued behind it.
        celery_app.send_task("tests.hold", args=(str(started), str(release)), queue=shared)
        wait_for(started.exists, 60, what=lambda: f"the holding task\n{worker.log_text()}")
        backlog = [celery_app.send_task("tower.ping", queue=shared) for _ in range(BACKLOG)]
        mine = celery_app.send_task("tower.ping", queue=own)
        release.touch()
        answers = [r.get(timeout=120) for r in [*backlog, mine]]
    finally:
        worker.stop()
    order = sorted(answers, key=lambda a: a["at"])
    position = next(i for i, a in enumerate(order) if a["queue"] == own)
    assert position <= 1, [a["queue"] for a in order]
