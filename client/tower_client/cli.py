"""The `tower` command: log in, submit a production file, follow, control and download jobs.

Errors are one line on stderr and a non-zero exit (1 for errors, 2 for usage, 3 when a watched
job did not succeed), never a traceback; `--debug` shows the traceback.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from tower_client import commands_library, commands_models, commands_production
from tower_client.address import normalize_url
from tower_client.api import TowerClient
from tower_client.bars import StageBars
from tower_client.commands_account import login, logout
from tower_client.commands_echo import echo
from tower_client.commands_operators import (
    job_stage,
    production_label,
    remove_node,
    show,
    stage_label,
)
from tower_client.commands_settings import settings
from tower_client.errors import TowerError
from tower_client.production import ProductionError, read_production
from tower_client.sheet import make_contact_sheet
from tower_client.textfiles import read_text_limited

DEFAULT_URL = "http://127.0.0.1:5000"
DEFAULT_CONFIG = "~/.config/tower/cli.json"
JOB_FAILED = 3


class Context:
    """The command's settings: where the API is, the token, and where they are saved."""

    def __init__(self, url: str | None, token: str | None, config: Path) -> None:
        self.config = config
        saved = load_config(config)
        self.url = normalize_url(url or saved.get("url") or DEFAULT_URL)
        self.token = token or saved.get("token")

    def client(self, *, need_token: bool = True) -> TowerClient:
        """A client for the API.

        :raises click.ClickException: when a token is needed and there is none.
        """
        if need_token and not self.token:
            raise click.ClickException("not logged in: run `tower login` (or set TOWER_TOKEN)")
        return TowerClient(self.url, token=self.token)


def load_config(path: Path) -> dict[str, Any]:
    """The saved url and token (empty when there is no readable file)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def save_config(path: Path, values: dict[str, Any]) -> None:
    """Save the url and token, readable by the user only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(values, out, indent=2)
    os.replace(tmp, path)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--url", envvar="TOWER_URL", help=f"Tower's address [default: {DEFAULT_URL}]")
@click.option("--token", envvar="TOWER_TOKEN", help="A bearer token (else the saved one).")
@click.option(
    "--config",
    envvar="TOWER_CONFIG",
    default=DEFAULT_CONFIG,
    show_default=True,
    help="Where `tower login` saves the url and token.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.pass_context
def cli(ctx: click.Context, url: str | None, token: str | None, config: str, debug: bool) -> None:
    """Tower render farm: submit productions and follow their jobs."""
    ctx.obj = Context(url, token, Path(config).expanduser())


cli.add_command(login)
cli.add_command(logout)


@cli.command()
@click.argument("production_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--watch", is_flag=True, help="Follow the job with progress bars until it ends.")
@click.option("--priority", type=click.IntRange(0, 9), help="Override the file's priority.")
@click.pass_obj
def submit(obj: Context, production_file: Path, watch: bool, priority: int | None) -> None:
    """Create (or, for a file submitted before, update) a production and render its episode."""
    production = read_production(production_file)
    with obj.client() as client:
        result = client.submit_production(production, priority=priority)
        for warning in result.warnings:
            click.echo(f"warning: {warning}", err=True)
        click.echo(
            f"submitted job {result.job_id}: {result.result} project {result.project_id}, "
            f"episode {result.episode_id}, scenes {', '.join(map(str, result.scene_ids))}"
        )
        if watch:
            finish(follow(client, result.job_id))


@cli.command()
@click.argument("job_id", type=int)
@click.pass_obj
def watch(obj: Context, job_id: int) -> None:
    """Follow a job with a progress bar per stage until it ends."""
    with obj.client() as client:
        finish(follow(client, job_id))


@cli.command()
@click.argument("job_id", type=int)
@click.pass_obj
def status(obj: Context, job_id: int) -> None:
    """Print a job's status report as JSON."""
    with obj.client() as client:
        click.echo(json.dumps(client.status(job_id), indent=2))


@cli.command()
@click.option("--status", "status_", help="Only jobs in this status.")
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
@click.pass_obj
def jobs(obj: Context, status_: str | None, limit: int) -> None:
    """List recent jobs, newest first."""
    with obj.client() as client:
        page = client.list_jobs(limit=limit, status=status_)
    click.echo(
        f"{'JOB':>6}  {'KIND':<9} {'STATUS':<10} {'PROGRESS':>8}  {'STAGE':<24} "
        f"{'CREATED':<19}  PRODUCTION"
    )
    for job in page["items"]:
        percent = f"{100 * job['progress']:.0f}%"
        click.echo(
            f"{job['id']:>6}  {job['kind']:<9} {job['status']:<10} {percent:>8}  "
            f"{job_stage(job):<24} {job['created_at'][:19]}  {production_label(job)}"
        )


@cli.command()
@click.argument("job_id", type=int)
@click.option("--stage", "stage_id", type=int, help="Re-run this stage run (else every failed).")
@click.option("--watch", "follow_job", is_flag=True, help="Follow the job until it ends.")
@click.pass_obj
def retry(obj: Context, job_id: int, stage_id: int | None, follow_job: bool) -> None:
    """Re-run a job's failed stages (or one stage) and what follows them."""
    with obj.client() as client:
        body = client.retry(job_id, stage_id)
        click.echo(f"job {body['request_id']} {body['status']}")
        if follow_job:
            finish(follow(client, job_id))


@cli.command()
@click.argument("job_id", type=int)
@click.pass_obj
def cancel(obj: Context, job_id: int) -> None:
    """Cancel a job."""
    with obj.client() as client:
        body = client.cancel(job_id)
    click.echo(f"job {body['request_id']} {body['status']}")


@cli.command()
@click.pass_obj
def nodes(obj: Context) -> None:
    """List the GPU backends: each one's status, GPU, current stage and ComfyUI address."""
    with obj.client() as client:
        rows = client.nodes()
    if not rows:
        click.echo("no GPU node registered")
        return
    click.echo(f"{'NODE':<14} {'STATUS':<9} {'GPU':<22} {'DOING':<22} COMFYUI")
    for node in rows:
        stage = node.get("current_stage") or {}
        doing = f"{stage.get('stage', '')} job {stage.get('job_id', '')}" if stage else "idle"
        click.echo(
            f"{node['name']:<14} {node['status']:<9} {gpu_label(node):<22} "
            f"{doing:<22} {node['comfyui_url']}"
        )


cli.add_command(show)
cli.add_command(remove_node)


@cli.group()
def workflows() -> None:
    """Stored ComfyUI workflows."""


@workflows.command("upload")
@click.argument("graph_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--stage",
    required=True,
    help="The template it serves: keyframe, keyframe_ref, animate, animate_svd, interpolate, "
    "upscale, upscale_model or bridge.",
)
@click.option(
    "--bindings",
    "bindings_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON: parameter -> {node, input}.",
)
@click.option("--name", help="Workflow name [default: the file's stem].")
@click.option("--description", default="")
@click.option("--activate", is_flag=True, help="Make this version the active one.")
@click.pass_obj
def upload_workflow(
    obj: Context,
    graph_file: Path,
    stage: str,
    bindings_file: Path,
    name: str | None,
    description: str,
    activate: bool,
) -> None:
    """Upload an API-format ComfyUI workflow as the next version of its name."""
    graph, bindings = read_json(graph_file), read_json(bindings_file)
    with obj.client() as client:
        row = client.upload_workflow(
            name or graph_file.stem.lower(),
            stage,
            graph,
            bindings,
            description=description,
            activate=activate,
        )
    state = "active" if row["is_active"] else "inactive"
    click.echo(f"workflow {row['name']} v{row['version']} (id {row['id']}, {state})")


@cli.command()
@click.argument("job_id", type=int)
@click.option("--to", "dest", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--stages", is_flag=True, help="Also every stage's outputs (keyframes, clips).")
@click.pass_obj
def download(obj: Context, job_id: int, dest: Path, stages: bool) -> None:
    """Download a job's outputs (the final episode) into a folder."""
    with obj.client() as client:
        paths = client.download_outputs(job_id, dest, stages=stages)
    if not paths:
        raise click.ClickException(f"job {job_id} has no outputs yet")
    for path in paths:
        click.echo(str(path))


@cli.command()
@click.argument("job_id", type=int)
@click.option(
    "--to",
    "dest",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The PNG to write [default: <project>-ep<N>-<title>-contact-sheet.png].",
)
@click.option("--columns", type=click.IntRange(1, 8), default=2, show_default=True)
@click.pass_obj
def sheet(obj: Context, job_id: int, dest: Path | None, columns: int) -> None:
    """Tile a job's scene keyframes into a contact sheet PNG."""
    with obj.client() as client:
        path = make_contact_sheet(client, job_id, dest, columns=columns)
    click.echo(str(path))


def gpu_label(node: dict[str, Any]) -> str:
    """The GPU's name without ComfyUI's device prefix and allocator suffix."""
    name = node.get("gpu_name") or "-"
    name = name.split(" : ")[0]
    return name.split(" ", 1)[1] if name.startswith("cuda:") and " " in name else name


def read_json(path: Path) -> Any:
    """A JSON file's content.

    :raises click.ClickException: when it cannot be read, is too long or is not JSON.
    """
    try:
        text = read_text_limited(path)
    except (OSError, ValueError) as exc:  # TooLong and UnicodeDecodeError are ValueErrors
        raise click.ClickException(f"{path}: cannot read it ({exc})") from exc
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # nesting deeper than Python's parser goes
        raise click.ClickException(f"{path}: not a JSON file ({exc})") from exc


def follow(client: TowerClient, job_id: int) -> dict[str, Any]:
    """Watch a job with progress bars on stderr; its final report."""
    bars = StageBars(job_id, sys.stderr)
    try:
        return client.watch(job_id, bars.update)
    finally:
        bars.close()


def finish(report: dict[str, Any]) -> None:
    """Print how a watched job ended and its outputs; exit 3 unless it succeeded."""
    job_id = report["request_id"]
    if report["status"] == "succeeded":
        for output in report["outputs"]:
            click.echo(f"output {output['kind']}: asset {output['asset_id']} {output['url']}")
        click.echo(f"job {job_id} succeeded; `tower download {job_id}` fetches the episode")
        return
    failed = [s for s in report["stages"] if s["status"] == "failed"]
    skipped = sum(s["status"] == "skipped" for s in report["stages"])
    last = failed[-1] if failed else None
    detail = f": {stage_label(last)} (stage run {last['id']}) {last['error']}" if last else ""
    if detail and skipped:
        detail += f" ({skipped} later stages skipped)"
    error = report.get("error") or ""
    click.echo(
        f"tower: job {job_id} {report['status']}{detail or (': ' + error if error else '')}",
        err=True,
    )
    raise SystemExit(JOB_FAILED)


cli.add_command(commands_production.validate)
cli.add_command(commands_production.retake)
cli.add_command(settings)
cli.add_command(echo)


def main(argv: Sequence[str] | None = None) -> None:
    """The console script: run the command, turning every error into one line and an exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="tower", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("tower: aborted", err=True)
        raise SystemExit(130) from None
    except click.ClickException as exc:
        if isinstance(exc, click.UsageError):
            exc.show()
        else:
            click.echo(f"tower: {exc.format_message()}", err=True)
        raise SystemExit(exc.exit_code) from None
    except ProductionError as exc:
        for line in exc.lines():
            click.echo(f"tower: {line}", err=True)
        raise SystemExit(1) from None
    except (TowerError, TimeoutError, OSError) as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"tower: {exc}", err=True)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        click.echo("tower: interrupted", err=True)
        raise SystemExit(130) from None
    except Exception as exc:  # the promise is one line, never a traceback (unless --debug)
        if debug:
            traceback.print_exc()
        click.echo(f"tower: unexpected error: {type(exc).__name__}: {exc}", err=True)
        raise SystemExit(1) from None
    raise SystemExit(0)


cli.add_command(commands_library.library)
cli.add_command(commands_models.models)

if __name__ == "__main__":
    main()
