"""The GPU fleet seen from a worker: register this node, heartbeat, mark silent nodes offline."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from shared.config import Settings
from shared.models import NodeStatus, WorkerNode
from shared.models.columns import utcnow
from tasks.pipeline.left_prompts import take_off_left_prompts
from workers.comfyui import ComfyClient, ComfyUnavailable
from workers.comfyui.errors import ComfyProtocolError
from workers.workflows import capabilities_from_object_info

log = logging.getLogger(__name__)

HEARTBEAT_EVERY_S = 5.0
OFFLINE_AFTER_S = 15.0


def node_name(settings: Settings) -> str:
    """This GPU worker's node name (its queue is gpu.<name>)."""
    return settings.worker_node or socket.gethostname()


def probe_backend(url: str) -> dict:
    """What a ComfyUI backend reports about itself and what it can run.

    :raises ComfyUnavailable: the backend does not answer.
    """
    with ComfyClient(url, timeout=(3.0, 30.0)) as client:
        stats = client.system_stats()
        caps = capabilities_from_object_info(client.object_info())
    device = (stats.get("devices") or [{}])[0]
    return {
        "gpu_name": str(device.get("name", "")),
        "vram_total": int(device.get("vram_total") or 0),
        "vram_free": int(device.get("vram_free") or 0),
        "node_classes": sorted(caps.node_classes),
        "models": {folder: sorted(names) for folder, names in caps.models.items()},
    }


def register_node(engine: Engine, settings: Settings, queues: list[str]) -> str:
    """Upsert this node's row from its backend's answers; a drained node stays drained.

    :raises ComfyUnavailable: the node's ComfyUI does not answer.
    """
    name = node_name(settings)
    facts = probe_backend(settings.comfyui_url)
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(WorkerNode.id, WorkerNode.status).where(WorkerNode.name == name)
        ).first()
        values = {
            **facts,
            "hostname": socket.gethostname(),
            "queues": queues,
            "comfyui_url": settings.comfyui_url,
            "last_heartbeat": utcnow(),
        }
        if row is None:
            conn.execute(
                sa.insert(WorkerNode).values(name=name, status=NodeStatus.ONLINE.value, **values)
            )
        else:
            status = row.status if row.status == NodeStatus.DRAINING else NodeStatus.ONLINE
            conn.execute(
                sa.update(WorkerNode)
                .where(WorkerNode.id == row.id)
                .values(status=str(status), **values)
            )
    log.info(
        "registered node=%s comfyui=%s classes=%d",
        name,
        settings.comfyui_url,
        len(facts["node_classes"]),
    )
    return name


def heartbeat(engine: Engine, name: str, url: str) -> bool:
    """Refresh this node's heartbeat and free VRAM; returns whether its ComfyUI answered (the
    heartbeat is skipped when it did not)."""
    try:
        with ComfyClient(url, timeout=(2.0, 5.0)) as client:
            device = (client.system_stats().get("devices") or [{}])[0]
    except (ComfyUnavailable, ComfyProtocolError) as exc:
        log.warning("heartbeat skipped node=%s: backend not answering: %s", name, exc)
        return False
    with engine.begin() as conn:
        conn.execute(
            sa.update(WorkerNode)
            .where(WorkerNode.name == name)
            .values(
                last_heartbeat=utcnow(),
                vram_free=int(device.get("vram_free") or 0),
                status=sa.case(
                    (WorkerNode.status == NodeStatus.OFFLINE, NodeStatus.ONLINE.value),
                    else_=WorkerNode.status,
                ),
            )
        )
    return True


class NodeKeeper:
    """Keeps this GPU node's row: registers it, heartbeats, and registers again every
    `refresh_s()` seconds and whenever its ComfyUI answers after a silence (a restart may have
    changed its classes and models: a node pack that failed to load, a LoRA added). At every
    beat its ComfyUI answers, it takes off the prompts ended attempts left there (left_prompts),
    so a take-off that failed, or a withdrawal that failed while the heartbeats went on, is
    tried again a beat later rather than a refresh later."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        queues: list[str],
        refresh_s: Callable[[], float],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.queues = queues
        self.name = node_name(settings)
        self.refresh_s = refresh_s
        self.clock = clock
        # When to register again (None: at the next tick). The setting is read once per
        # registration, so a heartbeat reads nothing but its ComfyUI.
        self.refresh_at: float | None = None

    def tick(self) -> None:
        """One beat: register when due, else heartbeat; then take off left prompts.

        :raises ComfyUnavailable: registering or taking off, when the node's ComfyUI does not
            answer.
        """
        if self.refresh_at is None or self.clock() >= self.refresh_at:
            register_node(self.engine, self.settings, self.queues)
            self.refresh_at = self.clock() + self.refresh_s()
        elif not heartbeat(self.engine, self.name, self.settings.comfyui_url):
            self.refresh_at = None
            return
        take_off_left_prompts(self.engine, self.name, self.settings.comfyui_url)


def mark_model_lacking(session: Session, name: str, folder: str, model: str) -> None:
    """Remember that a node lacks a model it lists (kept until an operator clears it)."""
    node = session.scalar(sa.select(WorkerNode).where(WorkerNode.name == name).with_for_update())
    if node is None:
        return
    lacking = {k: list(v) for k, v in (node.lacking_models or {}).items()}
    if model not in lacking.setdefault(folder, []):
        lacking[folder].append(model)
        node.lacking_models = lacking
        log.warning("node %s lacks %s/%s: routing avoids it for that model", name, folder, model)


def forget_node_class(session: Session, name: str, node_class: str) -> None:
    """Take a class a node's ComfyUI refused as unknown off the node's row (its node pack did
    not load when it last started), so routing sends that class elsewhere; the next
    registration reads the node's classes afresh."""
    node = session.scalar(sa.select(WorkerNode).where(WorkerNode.name == name).with_for_update())
    if node is None or node_class not in (node.node_classes or []):
        return
    node.node_classes = [c for c in node.node_classes if c != node_class]
    log.warning("node %s has no %s: routing avoids it for that class", name, node_class)


def mark_silent_nodes_offline(engine: Engine) -> list[str]:
    """Nodes whose heartbeat stopped become offline; returns their names."""
    cutoff = utcnow() - timedelta(seconds=OFFLINE_AFTER_S)
    with engine.begin() as conn:
        names = conn.scalars(
            sa.update(WorkerNode)
            .where(WorkerNode.status != NodeStatus.OFFLINE, WorkerNode.last_heartbeat < cutoff)
            .values(status=NodeStatus.OFFLINE.value)
            .returning(WorkerNode.name)
        ).all()
    for name in names:
        log.warning("node offline (no heartbeat for %ss): %s", OFFLINE_AFTER_S, name)
    return list(names)
