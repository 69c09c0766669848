"""Operators' commands: `tower show JOB` (a job as people name it, every stage run with its id
for `tower retry --stage`, and why a queued one waits) and `tower remove-node NAME`; and the
job labels `tower jobs` prints."""

from __future__ import annotations

from typing import Any

import click


def production_label(job: dict[str, Any]) -> str:
    """`Neon Rain · ep 1: Pilot` (empty from a farm that does not send names)."""
    name = job.get("project_name") or ""
    if job.get("episode_number") is None:
        return name
    return f"{name} · ep {job['episode_number']}: {job.get('episode_title') or ''}"


def job_stage(job: dict[str, Any]) -> str:
    """Where a job is: the stage it failed at, else the one it runs (none once it ended)."""
    if job.get("failed_stage"):
        return f"failed: {job['failed_stage']}"
    if job["status"] not in ("queued", "running"):
        return "-"
    return job.get("current_stage") or "-"


def stage_label(stage: dict[str, Any]) -> str:
    """`animate of scene 2`, or `mix` for an episode stage."""
    if stage.get("scene_id") is None:
        return stage["stage"]
    order = stage.get("scene_order")
    return f"{stage['stage']} of scene {order if order is not None else '?'}"


def stage_note(stage: dict[str, Any]) -> str:
    """Why a queued stage waits, or how a stage failed."""
    if stage.get("waiting_for"):
        return stage["waiting_for"]
    return stage.get("error") or ""


@click.command()
@click.argument("job_id", type=int)
@click.pass_obj
def show(obj, job_id: int) -> None:
    """Show a job: its production, status and every stage run, with the run ids that
    `tower retry --stage` takes and why a queued stage waits."""
    with obj.client() as client:
        report = client.status(job_id)
    head = [f"job {job_id}", production_label(report), report["status"]]
    head.append(f"{100 * report['progress']:.0f}%")
    if report.get("failed_stage"):
        head.append(f"failed at {report['failed_stage']}")
    click.echo(" · ".join(part for part in head if part))
    click.echo(f"{'RUN':>7}  {'STAGE':<26} {'TRY':>3}  {'STATUS':<10} {'BACKEND':<14} NOTE")
    order = sorted(
        report["stages"],
        key=lambda s: (s.get("scene_id") is None, s.get("scene_order") or 0, s["id"]),
    )
    for stage in order:
        click.echo(
            f"{stage['id']:>7}  {stage_label(stage):<26} {stage['attempt']:>3}  "
            f"{stage['status']:<10} {stage.get('backend') or '-':<14} {stage_note(stage)}"
        )


@click.command("remove-node")
@click.argument("name")
@click.pass_obj
def remove_node(obj, name: str) -> None:
    """Forget an offline GPU node (its worker registers it again if it comes back)."""
    with obj.client() as client:
        client.remove_node(name)
    click.echo(f"node {name} removed")
