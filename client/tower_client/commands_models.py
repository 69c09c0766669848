"""`tower models`: the models the farm's online nodes have, or one node's own."""

from __future__ import annotations

from typing import Any

import click


@click.command()
@click.option("--node", help="Show this node's own models (staff only).")
@click.option(
    "--kind",
    type=click.Choice(["checkpoints", "loras", "motion_modules", "interpolation"]),
    help="Only this kind of model.",
)
@click.pass_obj
def models(obj: Any, node: str | None, kind: str | None) -> None:
    """List checkpoints, LoRAs, motion modules and interpolation models with their nodes."""
    with obj.client() as client:
        if node:
            own = client.call("GET", f"/api/fleet/nodes/{node}")["models"]
            rows = {k: [{"name": n, "nodes": [node]} for n in names] for k, names in own.items()}
        else:
            rows = client.call("GET", "/api/anime/models")
    click.echo(f"{'KIND':<15} {'MODEL':<40} NODES")
    for name, items in rows.items():
        if kind and name != kind:
            continue
        for item in items:
            click.echo(f"{name:<15} {item['name']:<40} {','.join(item['nodes'])}")
