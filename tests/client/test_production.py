"""Production files read offline: the API's field names, the line of each field, and the YAML
the client refuses itself (the farm checks everything else: see test_validate.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tower_client.production import (
    Problem,
    ProductionError,
    parse_production,
    read_production,
)
from tower_client.textfiles import MAX_FILE_CHARS

from tests.client.cli_runner import call_tower
from tests.client.conftest import DEMO


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the first line containing `needle`."""
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_the_demo_production_is_sent_with_the_api_field_names():
    production = read_production(DEMO)
    body = production.body(priority=7)
    assert all(c["lora_name"].endswith(".safetensors") for c in body["characters"])
    assert all("lora" not in c for c in body["characters"])
    assert body["scenes"][1]["sfx_cues"] == [{"name": "whoosh", "at_s": 0.5}]
    assert body["priority"] == 7
    text = DEMO.read_text()
    assert production.problem("scenes.1.sfx_cues.0.at_s", "late") == Problem(
        line_of(text, "{name: whoosh, at_s: 0.5}"), "scenes[1].sfx[0].at_s", "late"
    )
    assert production.problem("characters.2.lora_name", "x").line == line_of(text, "villain")
    # A field the file does not have is placed at its nearest ancestor's line.
    assert production.problem("characters.2.description", "x").line == line_of(text, "Kage")
    assert production.problem("_schema", "bad").describe("f.yaml") == "f.yaml: bad"


def test_broken_yaml_names_its_line(tmp_path: Path):
    text = DEMO.read_text().replace("characters: [Aki]", "characters: [Aki", 1)
    with pytest.raises(ProductionError) as caught:
        parse_production(text, "broken.yaml")
    assert caught.value.problems[0].line is not None
    assert caught.value.lines()[0].startswith("broken.yaml:")
    assert "not valid YAML" in caught.value.lines()[0]


def test_an_alias_is_refused_with_its_line():
    text = DEMO.read_text().replace("  lora_strength: 0.8", "  lora_strength: &strength 0.8", 1)
    text = text.replace("lora_strength: 0.7", "lora_strength: *strength", 1)
    with pytest.raises(ProductionError) as caught:
        parse_production(text, "alias.yaml")
    assert caught.value.lines() == [
        f"alias.yaml:{line_of(text, '&strength')}: YAML anchors and aliases are not allowed "
        "(found &strength); write each value out"
    ]


def test_an_alias_bomb_is_refused_before_it_expands(capsys, tmp_path: Path):
    # 564 bytes that stand for 10^9 strings when the aliases are followed.
    levels = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(levels) + "\nproject: *a8\n")
    result = call_tower(
        capsys,
        "--token",
        "unused",
        "submit",
        str(bomb),
        config=tmp_path / "cli.json",
        url="http://127.0.0.1:9",
    )
    assert result.code == 1, result
    assert f"{bomb}:1: YAML anchors and aliases are not allowed (found &a0)" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_what_json_cannot_carry_is_sent_as_text_for_the_farm_to_name(capsys, tmp_path: Path):
    # A date as a key stopped the CLI ("unexpected error: TypeError"), and .nan made it say
    # the farm was unreachable (requests refused the body): now both reach the farm as text.
    text = "project: {name: Dates}\n2024-01-01: new year\npriority: .nan\nscenes: [.inf, 1]\n"
    body = parse_production(text, "odd.yaml").body()
    assert json.loads(json.dumps(body, allow_nan=False)) == {
        "project": {"name": "Dates"},
        "2024-01-01": "new year",
        "priority": "nan",
        "scenes": ["inf", 1],
    }
    odd = tmp_path / "odd.yaml"
    odd.write_text(text)
    result = call_tower(
        capsys, "--token", "unused", "validate", str(odd),
        config=tmp_path / "cli.json", url="http://127.0.0.1:9",
    )  # fmt: skip
    assert result.code == 1 and "cannot reach Tower at" in result.stderr, result


def test_a_file_nested_past_the_farms_limit_is_refused_with_its_line(capsys, tmp_path: Path):
    # Reading it recursed until "unexpected error: RecursionError".
    deep = tmp_path / "deep.yaml"
    deep.write_text("project: {name: Deep}\nscenes:\n  - " + "[" * 3000 + "]" * 3000 + "\n")
    result = call_tower(
        capsys, "--token", "unused", "validate", str(deep),
        config=tmp_path / "cli.json", url="http://127.0.0.1:9",
    )  # fmt: skip
    assert result.code == 1, result
    assert result.stderr == f"tower: {deep}:3: nested more than 64 levels deep\n", result


@pytest.mark.parametrize("name", ["/dev/zero", "huge.yaml"])
def test_a_file_past_the_size_limit_is_refused_without_reading_on(capsys, tmp_path: Path, name):
    # /dev/zero was read for ever (and memory with it).
    path = Path(name) if name.startswith("/") else tmp_path / name
    if name == "huge.yaml":
        path.write_text("# " + "x" * MAX_FILE_CHARS + "\n")
    result = call_tower(
        capsys, "--token", "unused", "validate", str(path),
        config=tmp_path / "cli.json", url="http://127.0.0.1:9",
    )  # fmt: skip
    assert result.code == 1, result
    assert result.stderr == f"tower: {path}: longer than 8 MiB, more than the farm takes\n"


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("/dev/zero", "cannot read it (longer than 8 MiB, more than the farm takes)"),
        ("[" * 100_000 + "]" * 100_000, "not a JSON file (maximum recursion depth exceeded"),
    ],
)
def test_a_workflow_file_too_long_or_too_deep_is_refused_in_a_line(
    capsys, tmp_path: Path, content, says
):
    # /dev/zero was read for ever; JSON nested past Python's parser gave a traceback.
    path = Path(content) if content.startswith("/") else tmp_path / "graph.json"
    if not content.startswith("/"):
        path.write_text(content)
    bindings = tmp_path / "bindings.json"
    bindings.write_text("{}")
    result = call_tower(
        capsys, "--token", "unused", "workflows", "upload", str(path), "--stage", "keyframe",
        "--bindings", str(bindings), config=tmp_path / "cli.json", url="http://127.0.0.1:9",
    )  # fmt: skip
    assert result.code == 1, result
    assert result.stderr.startswith(f"tower: {path}: {says}"), result
    assert "Traceback" not in result.stderr
