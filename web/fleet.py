"""The GPU fleet and the Celery queues as operators see them: nodes, drain/undrain, queue depths."""

from __future__ import annotations

import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis
import requests
import sqlalchemy as sa
from celery import Celery
from flask import current_app
from kombu.exceptions import KombuError

from shared.db import db
from shared.errors import ConflictError, NotFoundError
from shared.models import NodeStatus, StageRun, WorkerNode
from tasks.pipeline.stage_rows import scene_numbers

log = logging.getLogger(__name__)

BASE_QUEUES = ("gpu", "cpu", "control")
# kombu's Redis transport keeps one list per priority step: "<queue>" and "<queue>:<n>".
PRIORITY_STEPS = range(1, 10)
QUEUE_TIMEOUT_S = 1.0
# Each broadcast waits this long for replies (workers on a LAN answer in milliseconds).
INSPECT_TIMEOUT_S = 0.75
INSPECTOR = "tower_inspector"


def get_node(name: str) -> WorkerNode:
    """The node with this name.

    :raises NotFoundError: when no such node registered.
    """
    # A name Postgres cannot even compare (a NUL from the URL) names no node, not a 500.
    node = (
        db.session.scalar(sa.select(WorkerNode).where(WorkerNode.name == name))
        if "\x00" not in name
        else None
    )
    if node is None:
        raise NotFoundError(f"node {name!r} not found")
    return node


def read_queue_depth(url: str) -> int | None:
    """Prompts running plus pending on a ComfyUI backend, or None when it does not answer."""
    try:
        reply = requests.get(f"{url.rstrip('/')}/queue", timeout=QUEUE_TIMEOUT_S)
        reply.raise_for_status()
        body = reply.json()
        return len(body.get("queue_running") or []) + len(body.get("queue_pending") or [])
    except (requests.RequestException, ValueError, AttributeError) as exc:
        log.info("comfyui queue unreadable url=%s: %s", url, exc)
        return None


def find_current_stages(names: list[str]) -> dict[str, dict[str, Any]]:
    """The running stage run of each named node (the newest, when a node runs two)."""
    if not names:
        return {}
    runs = db.session.scalars(
        sa.select(StageRun)
        .where(StageRun.status == "running", StageRun.backend.in_(names))
        .order_by(StageRun.started_at.asc().nulls_first(), StageRun.id)
    ).all()
    numbers = scene_numbers(db.session, runs)
    return {
        run.backend: {
            "stage_id": run.id,
            "job_id": run.job_id,
            "scene_id": run.scene_id,
            "scene_order": numbers.get(run.scene_id),
            "stage": run.stage,
            "attempt": run.attempt,
            "progress": run.progress,
        }
        for run in runs
    }


def describe_node(node: WorkerNode, stage: dict | None, depth: int | None) -> dict[str, Any]:
    """A node as the operators' API shows it."""
    return {
        "name": node.name,
        "hostname": node.hostname,
        "status": node.status,
        "queues": list(node.queues or []),
        "comfyui_url": node.comfyui_url,
        "gpu_name": node.gpu_name,
        "vram_total": node.vram_total,
        "vram_used": max(node.vram_total - node.vram_free, 0),
        "vram_free": node.vram_free,
        "last_checkpoint": node.last_checkpoint,
        "lacking_models": dict(node.lacking_models or {}),
        "last_heartbeat": node.last_heartbeat,
        "current_stage": stage,
        "comfyui_queue": depth,
    }


def list_nodes() -> list[dict[str, Any]]:
    """Every registered node with its current stage and its ComfyUI queue depth."""
    nodes = db.session.scalars(sa.select(WorkerNode).order_by(WorkerNode.name)).all()
    stages = find_current_stages([n.name for n in nodes])
    urls = [n.comfyui_url if n.status != NodeStatus.OFFLINE else None for n in nodes]
    # The backends are asked at once: one silent node costs one timeout, not one per node.
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(nodes)))) as pool:
        depths = list(pool.map(lambda url: read_queue_depth(url) if url else None, urls))
    return [describe_node(n, stages.get(n.name), d) for n, d in zip(nodes, depths, strict=True)]


def set_node_status(name: str, status: NodeStatus) -> dict[str, Any]:
    """Drain a node (it finishes what it runs, takes nothing new) or bring it back online.

    :raises NotFoundError: when no such node registered.
    :raises ConflictError: when undraining a node that is offline.
    """
    node = get_node(name)
    if status == NodeStatus.ONLINE and node.status == NodeStatus.OFFLINE:
        raise ConflictError(f"node {name!r} is offline: start its worker to bring it back")
    if node.status != status:
        log.info("node status node=%s from=%s to=%s", name, node.status, status)
        node.status = status.value
        db.session.commit()
    return describe_node(node, find_current_stages([name]).get(name), None)


def remove_node(name: str) -> None:
    """Forget an offline node (renamed, or retired); its worker registers it again if it ever
    comes back.

    :raises NotFoundError: when no such node registered.
    :raises ConflictError: when the node is online or draining (drain it, stop its worker).
    """
    node = get_node(name)
    if node.status != NodeStatus.OFFLINE:
        raise ConflictError(
            f"node {name!r} is {node.status}: only an offline node can be removed "
            "(stop its worker first)",
            fields={"status": node.status},
        )
    log.info("node removed node=%s", name)
    db.session.delete(node)
    db.session.commit()


def clear_lacking_models(name: str) -> dict[str, Any]:
    """Forget the models a node was found to lack; routing offers them to it again.

    :raises NotFoundError: when no such node registered.
    """
    node = get_node(name)
    if node.lacking_models:
        log.info("node lacking models cleared node=%s models=%s", name, node.lacking_models)
        node.lacking_models = {}
        db.session.commit()
    return describe_node(node, find_current_stages([name]).get(name), None)


def connect_broker() -> redis.Redis:
    """A Redis client on the Celery broker of this app's settings."""
    url = current_app.config["SETTINGS"].broker_url
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def read_key_prefix() -> str:
    """The broker's global key prefix (empty unless farms share one Redis database)."""
    return getattr(current_app.config["SETTINGS"], "broker_key_prefix", "") or ""


def list_queue_names(client: redis.Redis, prefix: str = "") -> list[str]:
    """Tower's queues: the shared ones and every node's own gpu.<node> queue."""
    nodes = db.session.scalars(sa.select(WorkerNode.name)).all()
    names = set(BASE_QUEUES) | {f"gpu.{n}" for n in nodes}
    for key in client.scan_iter(match=f"{prefix}gpu.*", count=500):
        name = (key.decode() if isinstance(key, bytes) else key)[len(prefix) :]
        base, _, step = name.rpartition(":")
        names.add(base if base and step.isdigit() else name)
    return sorted(names)


def count_waiting(client: redis.Redis) -> dict[str, int]:
    """Messages waiting in each queue, summed over its priority lists."""
    prefix = read_key_prefix()
    names = list_queue_names(client, prefix)
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.llen(f"{prefix}{name}")
        for step in PRIORITY_STEPS:
            pipe.llen(f"{prefix}{name}:{step}")
    counts = pipe.execute()
    width = 1 + len(PRIORITY_STEPS)
    return {name: sum(counts[i * width : (i + 1) * width]) for i, name in enumerate(names)}


def inspector_app() -> Celery:
    """A private Celery app on this web app's broker, only for control broadcasts.

    The shared `tasks.app` keeps a connection pool built from whatever config it had when it
    was first used; broadcasting through a separate app never binds that pool early.
    """
    app = current_app.extensions.get(INSPECTOR)
    if app is None:
        from tasks.app import app as tower

        settings = current_app.config["SETTINGS"]
        options = {**tower.conf.broker_transport_options, "global_keyprefix": read_key_prefix()}
        app = Celery("tower-inspector", set_as_current=False)
        app.conf.update(
            broker_url=settings.broker_url,
            broker_transport_options=options,
            broker_connection_retry_on_startup=False,
        )
        current_app.extensions[INSPECTOR] = app
    return app


def count_worker_tasks() -> dict[str, dict[str, Any]]:
    """Running and reserved task counts per worker (by queue too), from a Celery broadcast."""
    inspect = inspector_app().control.inspect(timeout=INSPECT_TIMEOUT_S)
    active = inspect.active() or {}
    reserved = inspect.reserved() or {}
    workers: dict[str, dict[str, Any]] = {}
    for name in sorted(set(active) | set(reserved)):
        running = active.get(name) or []
        waiting = reserved.get(name) or []
        by_queue = Counter(
            (t.get("delivery_info") or {}).get("routing_key") or "?" for t in running
        )
        workers[name] = {
            "running": len(running),
            "reserved": len(waiting),
            "running_by_queue": dict(by_queue),
        }
    return workers


def describe_queues() -> dict[str, Any]:
    """Queue lengths from the broker and running/reserved counts from the workers."""
    lengths = count_waiting(connect_broker())
    try:
        workers = count_worker_tasks()
    except (OSError, redis.RedisError, KombuError) as exc:
        log.warning("celery inspect failed: %s", exc)
        workers = {}
    running = Counter()
    for info in workers.values():
        running.update(info["running_by_queue"])
    queues = [
        {"name": name, "length": length, "running": running.get(name, 0)}
        for name, length in lengths.items()
    ]
    return {
        "queues": queues,
        "workers": [
            {"name": name, "running": info["running"], "reserved": info["reserved"]}
            for name, info in workers.items()
        ],
        "running": sum(i["running"] for i in workers.values()),
        "reserved": sum(i["reserved"] for i in workers.values()),
        "flower_url": current_app.config.get("TOWER_FLOWER_URL"),
    }
