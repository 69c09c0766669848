"""Celery configuration, built from Tower's Settings (shared/config.py reads the environment)."""

from __future__ import annotations

from kombu import Queue

from shared.config import load_settings
from shared.stages import LONGEST_HARD_LIMIT_S, STAGES

_settings = load_settings()

broker_url = _settings.broker_url
result_backend = _settings.result_backend

task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
result_accept_content = ["json"]
timezone = "UTC"
enable_utc = True

# At-least-once: a task is acknowledged after it ran, and re-delivered when its worker dies.
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
task_track_started = True
result_expires = 24 * 3600
# One result backend (and Redis pool) per process: Celery keeps one per thread otherwise, which
# under the web's gevent workers means one per request greenlet, each opening Redis connections
# (chord size, result subscription) that stayed open after the request (bench.soak: +2 per job).
result_backend_thread_safe = True
worker_send_task_events = True
task_send_sent_event = True
broker_connection_retry_on_startup = True

task_default_queue = "cpu"
# gpu: any GPU worker; gpu.<node>: one backend's worker; cpu: compile and mix; control: the
# sweeper and job bookkeeping (consumed by the CPU worker; quick tasks).
task_queues = (Queue("gpu"), Queue("cpu"), Queue("control"))
task_routes = {
    **{kind.task_name: {"queue": kind.queue.value} for kind in STAGES},
    "render.finish": {"queue": "control"},
    "tower.sweep": {"queue": "control"},
    "tower.clean_artifacts": {"queue": "control"},
    "tower.fold_stage_finishes": {"queue": "control"},
}

beat_schedule = {
    "sweep-leases-and-lost-messages": {"task": "tower.sweep", "schedule": _settings.sweep_every_s},
    "clean-expired-artifacts": {"task": "tower.clean_artifacts", "schedule": 3600.0},
    "fold-stage-finishes": {"task": "tower.fold_stage_finishes", "schedule": 60.0},
}

# Default limits for any task without its own (stage tasks set theirs in the decorator).
task_soft_time_limit = 300
task_time_limit = 360

broker_transport_options = {
    # Longer than the longest hard time limit, so a slow stage is not delivered twice.
    "visibility_timeout": LONGEST_HARD_LIMIT_S + 600,
    # Ten priority levels; Redis serves the lowest number first (see tasks/pipeline/priority.py).
    "priority_steps": list(range(10)),
    "sep": ":",
    # Between a worker's queues of one priority, take turns: a fixed order (the "priority"
    # strategy) served a GPU node's own queue (re-routes, retries, a chain's next stage sent
    # to it) only once the shared queue was empty, and the CPU worker's control queue only
    # once no compile or mix waited.
    "queue_order_strategy": "round_robin",
    # Lets farms (and concurrent test runs) share one Redis database without sharing queues.
    "global_keyprefix": _settings.broker_key_prefix,
}
result_backend_transport_options = {"visibility_timeout": LONGEST_HARD_LIMIT_S + 600}
