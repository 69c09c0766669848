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
