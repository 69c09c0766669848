"""`tower validate` (the farm checks a production file, nothing is created) and `tower retake`
(one scene of a finished episode again)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from tower_client.production import read_production

if TYPE_CHECKING:
    from tower_client.cli import Context


@click.command()
@click.argument("production_file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def validate(obj: Context, production_file: Path) -> None:
    """Ask the farm whether a production file would be accepted (nothing is created)."""
    production = read_production(production_file)
    with obj.client() as client:
        verdict = client.submit_production(production, dry_run=True)
    for warning in verdict.warnings:
        click.echo(f"warning: {warning}", err=True)
    if verdict.result == "updated":
        target = f"update project {verdict.project_id}, episode {verdict.episode_id}"
    else:
        target = "create a new production"
    click.echo(f"{production_file}: valid; submitting it would {target}")


@click.command()
@click.argument("scene_id", type=int)
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), help="Else the next seed.")
@click.option("--prompt", help="A new prompt for the scene (kept on the scene).")
@click.option("--watch", "follow_job", is_flag=True, help="Follow the job until it ends.")
@click.pass_obj
def retake(obj: Context, scene_id: int, seed: int | None, prompt: str | None, follow_job: bool):
    """Re-render one scene of its succeeded episode job and recompile the episode."""
    from tower_client.cli import finish, follow

    with obj.client() as client:
        body = client.retake(scene_id, seed=seed, prompt=prompt)
        click.echo(f"job {body['request_id']} {body['status']}: retaking scene {scene_id}")
        if follow_job:
            finish(follow(client, body["request_id"]))
