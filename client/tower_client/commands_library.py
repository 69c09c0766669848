"""`tower library ...`: the farm's music and sound-effect library, its moods and effect names."""

from __future__ import annotations

from typing import Any

import click

LIBRARY = "/api/anime/library"


@click.group()
def library() -> None:
    """The farm's audio library: moods, effect names and entries."""


@library.command("moods")
@click.pass_obj
def moods(obj: Any) -> None:
    """The moods a scene may name (one a line)."""
    with obj.client() as client:
        words = client.call("GET", f"{LIBRARY}/moods")["moods"]
    click.echo("\n".join(words) if words else "the library has no music")


@library.command("sounds")
@click.pass_obj
def sounds(obj: Any) -> None:
    """The effect names and tags a sound cue may name (one a line)."""
    with obj.client() as client:
        words = client.call("GET", f"{LIBRARY}/sounds")["sounds"]
    click.echo("\n".join(words) if words else "the library has no sound effects")


@library.command("list")
@click.option("--kind", type=click.Choice(["music", "sfx"]), help="Only this kind.")
@click.pass_obj
def list_entries(obj: Any, kind: str | None) -> None:
    """The library's entries: id, kind, name, length, loop points and tags."""
    with obj.client() as client:
        rows = client.call("GET", f"{LIBRARY}/entries", params={"kind": kind} if kind else None)
    if not rows:
        click.echo("the library is empty")
    for row in rows:
        loop = (
            f"loop {row['loop_start_s']:g}-{row['loop_end_s']:g}s"
            if row["loop_start_s"] is not None
            else ""
        )
        click.echo(
            f"{row['id']:>5} {row['kind']:<6} {row['name']:<24} {row['duration_s']:7.2f}s "
            f"{loop:<16} {','.join(row['tags'])}"
        )


def audio_options(command):
    """The options an upload and a replacement share."""
    for option in reversed(
        [
            click.option("--name", help="Unique per kind [default: the file's name]."),
            click.option("--tags", help="Comma-separated: moods for music, sounds for effects."),
            click.option(
                "--loop",
                nargs=2,
                type=float,
                metavar="START END",
                help="Music: the stretch (seconds) repeated after the first pass.",
            ),
        ]
    ):
        command = option(command)
    return command


def send_audio(obj: Any, method: str, path: str, file: str, form: dict[str, Any]) -> None:
    """Upload `file` with the form fields given; print the stored entry."""
    loop = form.pop("loop", None) or ()
    fields = {k: str(v) for k, v in form.items() if v is not None}
    fields |= dict(zip(("loop_start_s", "loop_end_s"), map(str, loop), strict=False))
    with obj.client() as client, open(file, "rb") as audio:
        row = client.call(method, path, data=fields, files={"file": audio}, timeout=600)
    click.echo(
        f"{row['kind']} {row['name']!r} (id {row['id']}): {row['duration_s']:.2f}s "
        f"{row['sample_rate']} Hz tags={','.join(row['tags'])}"
    )


@library.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--kind", type=click.Choice(["music", "sfx"]), required=True)
@audio_options
@click.pass_obj
def add(obj: Any, file: str, kind: str, **form: Any) -> None:
    """Upload an audio file as a new entry (staff); the farm checks it before storing it."""
    send_audio(obj, "POST", f"{LIBRARY}/entries", file, {"kind": kind, **form})


@library.command("replace")
@click.argument("entry_id", type=int)
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@audio_options
@click.pass_obj
def replace(obj: Any, entry_id: int, file: str, **form: Any) -> None:
    """Replace an entry's file (staff); name and tags are kept unless given."""
    send_audio(obj, "PUT", f"{LIBRARY}/entries/{entry_id}", file, form)


@library.command("delete")
@click.argument("entry_id", type=int)
@click.pass_obj
def delete(obj: Any, entry_id: int) -> None:
    """Remove an entry and its file (staff)."""
    with obj.client() as client:
        client.call("DELETE", f"{LIBRARY}/entries/{entry_id}")
    click.echo(f"deleted library entry {entry_id}")
