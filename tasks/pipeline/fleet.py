"""The GPU fleet seen from a worker: register this node, heartbeat, mark silent nodes offline."""

from __future__ import annotations

import logging
import socket
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from shared.config import Settings
from shared.models import NodeStatus, WorkerNode
from shared.models.columns import utcnow
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


def heartbeat(engine: Engine, name: str, url: str) -> None:
    """Refresh this node's heartbeat and free VRAM (only while its ComfyUI answers)."""
    try:
        with ComfyClient(url, timeout=(2.0, 5.0)) as client:
            device = (client.system_stats().get("devices") or [{}])[0]
    except (ComfyUnavailable, ComfyProtocolError) as exc:
        log.warning("heartbeat skipped node=%s: backend not answering: %s", name, exc)
        return
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
