"""The model files the farm has: per kind, each with the online nodes that have it, and the
characters whose LoRA no online node has."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from shared.db import db
from shared.models import Character, NodeStatus, WorkerNode
from web.fleet import describe_node, find_current_stages, get_node, read_queue_depth

# What users call each kind -> the ComfyUI model folders it is read from.
MODEL_KINDS: dict[str, tuple[str, ...]] = {
    "checkpoints": ("checkpoints",),
    "loras": ("loras",),
    "motion_modules": ("animatediff_models",),
    "interpolation": ("rife", "film"),
}


def node_models(node: WorkerNode) -> dict[str, list[str]]:
    """The models a node has, by kind: what it lists, less what it is known to lack."""
    lacking = node.lacking_models or {}
    listed = node.models or {}
    return {
        kind: sorted(
            {
                name
                for folder in folders
                for name in listed.get(folder, ())
                if name not in lacking.get(folder, ())
            }
        )
        for kind, folders in MODEL_KINDS.items()
    }


def describe_node_models(name: str) -> dict[str, Any]:
    """A node as the fleet API shows it, with its own models.

    :raises NotFoundError: when no such node registered.
    """
    node = get_node(name)
    depth = read_queue_depth(node.comfyui_url) if node.status != NodeStatus.OFFLINE else None
    detail = describe_node(node, find_current_stages([name]).get(name), depth)
    return detail | {"models": node_models(node)}


def online_nodes() -> list[WorkerNode]:
    """The nodes that are online now, by name."""
    return list(
        db.session.scalars(
            sa.select(WorkerNode)
            .where(WorkerNode.status == NodeStatus.ONLINE.value)
            .order_by(WorkerNode.name)
        )
    )


def list_models(nodes: Iterable[WorkerNode] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every model of each kind some online node has, with the names of those nodes."""
    holders: dict[str, dict[str, list[str]]] = {kind: {} for kind in MODEL_KINDS}
    for node in online_nodes() if nodes is None else nodes:
        for kind, names in node_models(node).items():
            for name in names:
                holders[kind].setdefault(name, []).append(node.name)
    return {
        kind: [{"name": name, "nodes": by_name[name]} for name in sorted(by_name)]
        for kind, by_name in holders.items()
    }


def lora_warnings(lora_name: str | None) -> list[str]:
    """Why a character's LoRA will not render now: no online node has it (empty when fine)."""
    if not lora_name:
        return []
    loras = {m["name"] for m in list_models()["loras"]}
    if lora_name in loras:
        return []
    return [
        f"no online node has the LoRA {lora_name!r}: the character's scenes wait for one "
        "(GET /api/anime/models lists the LoRAs the farm has)"
    ]


def characters_missing_loras(limit: int = 200) -> list[dict[str, Any]]:
    """Characters whose LoRA no online node has, with their project, for the dashboard."""
    loras = [m["name"] for m in list_models()["loras"]]
    rows = db.session.scalars(
        sa.select(Character)
        .where(Character.lora_name.is_not(None), Character.lora_name != "")
        .where(Character.lora_name.not_in(loras))
        .order_by(Character.project_id, Character.name)
        .limit(limit)
    )
    return [
        {"id": c.id, "name": c.name, "project_id": c.project_id, "lora_name": c.lora_name}
        for c in rows
    ]
