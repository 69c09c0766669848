"""Production files: the demo's sample is valid; malformed ones name the line and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from tower_client.production import ProductionError, parse_production, read_production

from tests.client.cli_runner import call_tower
from tests.client.conftest import DEMO


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the first line containing `needle`."""
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_the_demo_production_is_valid_and_maps_to_api_fields():
    production = read_production(DEMO)
    assert len(production.characters) == 3
    assert all(c["lora_name"].endswith(".safetensors") for c in production.characters)
    assert [s["order"] for s in production.scenes] == [1, 2, 3, 4]
    assert {s["transition"] for s in production.scenes} == {"cut", "crossfade", "fade_black"}
    assert any(s["sfx_cues"] for s in production.scenes)
    assert len({s["mood"] for s in production.scenes}) == 4


@pytest.mark.parametrize(
    ("change", "needle", "field", "words"),
    [
        (
            ("transition: crossfade", "transition: wipe"),
            "transition: wipe",
            "scenes[1].transition",
            "one of cut, crossfade, fade_black, generated",
        ),
        (
            ("characters: [Aki, Ren, Kage]", "characters: [Aki, Rin, Kage]"),
            "[Aki, Rin, Kage]",
            "scenes[2].characters[1]",
            "no character named 'Rin'",
        ),
        (
            ("{name: whoosh, at_s: 0.5}", "{name: whoosh, at_s: 9}"),
            "at_s: 9",
            "scenes[1].sfx[0].at_s",
            "inside the scene",
        ),
        (("  fps: 16\n", "  fps: sixteen\n"), "fps: sixteen", "episode.fps", "whole number"),
        (
            ("    lora_strength: 0.7\n", "    lora_strenght: 0.7\n"),
            "lora_strenght",
            "characters[1].lora_strenght",
            "unknown field",
        ),
    ],
)
def test_a_malformed_file_gets_its_line_and_field(
    capsys, tmp_path: Path, change, needle, field, words
):
    text = DEMO.read_text().replace(*change, 1)
    assert text != DEMO.read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    result = call_tower(
        capsys,
        "--token",
        "unused",
        "submit",
        str(bad),
        config=tmp_path / "cli.json",
        url="http://127.0.0.1:9",
    )
    assert result.code == 1, result
    assert f"{bad}:{line_of(text, needle)}: {field}: " in result.stderr, result
    assert words in result.stderr, result
    assert "Traceback" not in result.stderr + result.stdout
    assert "submitted" not in result.stdout


def test_broken_yaml_names_its_line(tmp_path: Path):
    text = DEMO.read_text().replace("characters: [Aki]", "characters: [Aki", 1)
    with pytest.raises(ProductionError) as caught:
        parse_production(text, "broken.yaml")
    assert caught.value.problems[0].line is not None
    assert caught.value.lines()[0].startswith("broken.yaml:")
    assert "not valid YAML" in caught.value.lines()[0]


def test_missing_sections_are_named():
    with pytest.raises(ProductionError) as caught:
        parse_production("project:\n  name: Neon\nepisode: 3\n", "p.yaml")
    lines = caught.value.lines()
    assert "p.yaml:3: episode: must be a mapping of fields" in lines
    assert any(line.endswith("scenes: is required") for line in lines)


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
