"""`tower echo ...`: Echo Brain, the creative assistant, from the command line.

Each command prints the suggestion readably (or as JSON with `--json`) and its id, which
`tower echo accept ID` writes into the production.
"""

from __future__ import annotations

import json
from typing import Any

import click


def show(suggestion: dict[str, Any], as_json: bool) -> None:
    """Print a suggestion: JSON, or a few readable lines per feature."""
    if as_json:
        click.echo(json.dumps(suggestion, indent=2))
        return
    output = suggestion["output"]
    feature = suggestion["feature"]
    click.echo(f"suggestion {suggestion['id']} ({feature}, {suggestion['model']}, "
               f"{suggestion['latency_ms']} ms)")  # fmt: skip
    if "title" in output:
        click.echo(f"title: {output['title']}\nsynopsis: {output['synopsis']}")
    for i, scene in enumerate(output.get("scenes", []), start=1):
        click.echo(f"  scene {i}: {scene['duration_s']:g}s {scene['mood']:<8} "
                   f"{scene['transition']:<10} {scene['prompt']}")  # fmt: skip
    for line in output.get("lines", []):
        click.echo(f"  {line['at_s']:6.2f}s  character {line['character_id']}: {line['text']}")
    for key in ("premises", "settings"):
        for idea in output.get(key, []):
            click.echo(f"  {key[:-1]}: {idea}")
    for character in output.get("characters", []):
        click.echo(f"  character: {character['name']}: {character['description']}")
    if "summary" in output:
        click.echo(f"summary: {output['summary']}")
    for finding in output.get("findings", []):
        click.echo(f"  [{finding['severity']}] {finding['kind']} (scenes "
                   f"{finding['scene_ids']}): {finding['message']}")  # fmt: skip
    if suggestion["feature"] in ("scenes", "continuation", "dialogue"):
        click.echo(f"accept with: tower echo accept {suggestion['id']}")


def accept_and_show(client: Any, suggestion: dict[str, Any], replace: bool) -> None:
    """Accept a suggestion and say what it wrote."""
    body = client.accept_suggestion(suggestion["id"], replace=replace)
    made = f"episode {body['episode_id']}, " if body["episode_id"] else ""
    click.echo(f"accepted suggestion {suggestion['id']}: {made}scenes {body['scene_ids']}")


as_json_option = click.option("--json", "as_json", is_flag=True, help="Print the JSON answer.")
accept_option = click.option("--accept", "accept_it", is_flag=True, help="Accept it at once.")
brief_option = click.option("--brief", default="", help="What you have in mind.")


@click.group()
def echo() -> None:
    """Echo Brain: prompts, scenes, dialogue, episodes, ideas and reviews from an LLM."""


@echo.command()
@click.argument("prompt")
@click.option("--project", "project_id", type=int, help="Use this project's style.")
@click.option("--character", "character_ids", type=int, multiple=True, help="A character id.")
@click.option("--style", default="", help="A style to apply.")
@click.pass_obj
def enhance(obj, prompt: str, project_id: int | None, character_ids: tuple[int, ...],
            style: str) -> None:  # fmt: skip
    """Improve a prompt and write its negative prompt."""
    with obj.client() as client:
        body = client.enhance_prompt(prompt, project_id=project_id,
                                     character_ids=list(character_ids), style=style)  # fmt: skip
    click.echo(f"prompt: {body['prompt']}\nnegative: {body['negative_prompt']}")


@echo.command()
@click.argument("episode_id", type=int)
@click.option("--count", type=click.IntRange(1, 10), default=3, show_default=True)
@brief_option
@accept_option
@as_json_option
@click.pass_obj
def scenes(obj, episode_id: int, count: int, brief: str, accept_it: bool, as_json: bool) -> None:
    """Suggest an episode's next scenes."""
    with obj.client() as client:
        suggestion = client.suggest_scenes(episode_id, count=count, brief=brief)
        show(suggestion, as_json)
        if accept_it:
            accept_and_show(client, suggestion, False)


@echo.command()
@click.argument("scene_id", type=int)
@click.option("--max-lines", type=click.IntRange(1, 20), default=4, show_default=True)
@brief_option
@accept_option
@click.option("--replace", is_flag=True, help="With --accept: overwrite the scene's lines.")
@as_json_option
@click.pass_obj
def dialogue(obj, scene_id: int, max_lines: int, brief: str, accept_it: bool, replace: bool,
             as_json: bool) -> None:  # fmt: skip
    """Suggest a scene's dialogue."""
    with obj.client() as client:
        suggestion = client.suggest_dialogue(scene_id, max_lines=max_lines, brief=brief)
        show(suggestion, as_json)
        if accept_it:
            accept_and_show(client, suggestion, replace)


@echo.command("continue")
@click.argument("episode_id", type=int)
@click.option("--count", type=click.IntRange(1, 10), default=3, show_default=True)
@brief_option
@accept_option
@as_json_option
@click.pass_obj
def continue_(obj, episode_id: int, count: int, brief: str, accept_it: bool,
              as_json: bool) -> None:  # fmt: skip
    """Suggest the next episode after this one."""
    with obj.client() as client:
        suggestion = client.continue_episode(episode_id, count=count, brief=brief)
        show(suggestion, as_json)
        if accept_it:
            accept_and_show(client, suggestion, False)


@echo.command()
@click.argument("project_id", type=int)
@click.option("--topic", default="", help="What to brainstorm about.")
@as_json_option
@click.pass_obj
def brainstorm(obj, project_id: int, topic: str, as_json: bool) -> None:
    """Brainstorm premises, characters and settings for a project."""
    with obj.client() as client:
        show(client.brainstorm(project_id, topic=topic), as_json)


@echo.command()
@click.argument("episode_id", type=int)
@as_json_option
@click.pass_obj
def analyse(obj, episode_id: int, as_json: bool) -> None:
    """Review an episode's pacing, arcs and continuity."""
    with obj.client() as client:
        show(client.analyse_episode(episode_id), as_json)


@echo.command("suggestions")
@click.argument("project_id", type=int)
@click.option("--feature", help="Only this feature's suggestions.")
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
@click.pass_obj
def list_suggestions(obj, project_id: int, feature: str | None, limit: int) -> None:
    """List a project's suggestions, newest first."""
    with obj.client() as client:
        page = client.suggestions(project_id, feature=feature, limit=limit)
    click.echo(f"{'ID':>6}  {'FEATURE':<14} {'ACCEPTED':<8} {'MODEL':<20} CREATED")
    for row in page["items"]:
        click.echo(f"{row['id']:>6}  {row['feature']:<14} {'yes' if row['accepted'] else 'no':<8} "
                   f"{row['model'][:20]:<20} {row['created_at'][:19]}")  # fmt: skip


@echo.command()
@click.argument("suggestion_id", type=int)
@click.option("--replace", is_flag=True, help="Overwrite a scene's existing lines.")
@click.pass_obj
def accept(obj, suggestion_id: int, replace: bool) -> None:
    """Accept a suggestion: its scenes, episode or dialogue are written."""
    with obj.client() as client:
        accept_and_show(client, {"id": suggestion_id}, replace)
