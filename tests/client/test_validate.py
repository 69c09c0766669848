"""`tower validate` and `tower submit` against the live farm: the farm's rules, reported at the
file's lines, all at once; a refused file creates nothing; the same file again updates."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tower_client.api import TowerClient

from tests.client.cli_runner import call_tower
from tests.client.conftest import DEMO
from tests.client.test_production import line_of

# A small production that renders in seconds: two 1 s scenes at 64x64.
SMALL = """\
key: {key}
project:
  name: {name}
characters:
  - name: Aki
    lora: character_v1.safetensors
episode:
  number: 1
  title: Small
  fps: 16
  width: 64
  height: 64
scenes:
  - prompt: Aki on a rooftop
    characters: [Aki]
    duration_s: 1
  - prompt: rain over the city
    duration_s: 1
    transition: cut
render:
  steps: 2
  frames: 8
  fps: 8
  multiplier: 2
  width: 64
  height: 64
"""
# (change to the demo file, the line's text after it, the field as the file names it, words)
BAD = [
    (("transition: crossfade", "transition: wipe"), "transition: wipe", "scenes[1].transition",
     "cut, crossfade, fade_black"),
    (("characters: [Aki, Ren, Kage]", "characters: [Aki, Rin, Kage]"), "[Aki, Rin, Kage]",
     "scenes[2].characters[1]", "no character named 'Rin'"),
    (("{name: whoosh, at_s: 0.5}", "{name: whoosh, at_s: 9}"), "at_s: 9",
     "scenes[1].sfx[0].at_s", "after the scene"),
    (("{name: hit, at_s: 1.0}", "{name: hit, at_s: 1.0, gain_db: 20}"), "gain_db: 20",
     "scenes[2].sfx[0].gain_db", "12"),
    (("  fps: 16\n", "  fps: sixteen\n"), "fps: sixteen", "episode.fps", "integer"),
    (("    duration_s: 2\n    mood: calm", "    duration_s: 90\n    mood: calm"),
     "duration_s: 90", "scenes[0].duration_s", "60"),
    (("    lora_strength: 0.7\n", "    lora_strenght: 0.7\n"), "lora_strenght",
     "characters[1].lora_strenght", "Unknown field"),
]  # fmt: skip


def small_file(tmp_path: Path, key: str, name: str = "Small") -> Path:
    """SMALL with this key and project name, written to a file."""
    path = tmp_path / f"{key}.yaml"
    path.write_text(SMALL.format(key=key, name=name))
    return path


@pytest.fixture
def tower(live, config):
    """A client with the operator's saved token."""
    with TowerClient(live.url, token=json.loads(config.read_text())["token"]) as client:
        yield client


def projects_named(tower: TowerClient, name: str) -> list[dict]:
    return [
        p for p in tower.call("GET", "/api/anime/projects?limit=200")["items"] if p["name"] == name
    ]


@pytest.mark.parametrize(("change", "needle", "field", "words"), BAD)
def test_validate_reports_the_farms_refusal_at_the_files_line(
    capsys, config, tmp_path, change, needle, field, words
):
    text = DEMO.read_text().replace(*change, 1)
    assert text != DEMO.read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    result = call_tower(capsys, "validate", str(bad), config=config)
    assert result.code == 1, result
    assert f"tower: {bad}:{line_of(text, needle)}: {field}: " in result.stderr, result
    assert words in result.stderr, result
    assert "Traceback" not in result.stderr + result.stdout


def test_every_problem_is_reported_at_once_and_a_refused_file_creates_nothing(
    capsys, config, tmp_path, tower
):
    # A scene's cues are checked against its duration once its fields are valid, so the cue
    # of scene 1, whose transition is refused, is left out here.
    bad_ones = [b for b in BAD if not b[2].startswith("scenes[1].sfx")]
    text = DEMO.read_text().replace("name: Neon Rain", "name: Refused Rain", 1)
    for change, *_ in bad_ones:
        text = text.replace(*change, 1)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    result = call_tower(capsys, "submit", str(bad), config=config)
    assert result.code == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == len(bad_ones), result
    for _, needle, field, _ in bad_ones:
        assert f"tower: {bad}:{line_of(text, needle)}: {field}: " in result.stderr, result
    numbers = [int(re.match(rf"tower: {re.escape(str(bad))}:(\d+):", line)[1]) for line in lines]
    assert numbers == sorted(numbers)
    assert "submitted" not in result.stdout
    # Only the last scene is refused: still nothing is created.
    last = DEMO.read_text().replace("name: Neon Rain", "name: Refused Rain", 1)
    last = last.replace("    transition: fade_black\n", "    transition: dissolve\n", 1)
    bad.write_text(last)
    result = call_tower(capsys, "submit", str(bad), config=config)
    assert result.code == 1 and "scenes[3].transition" in result.stderr, result
    assert projects_named(tower, "Refused Rain") == []


def test_validate_creates_nothing_and_warns_of_models_no_node_has(capsys, config, tmp_path, tower):
    good = small_file(tmp_path, "validate-only", name="Validated")
    result = call_tower(capsys, "validate", str(good), config=config)
    assert result.code == 0, result
    assert result.stdout.strip() == f"{good}: valid; submitting it would create a new production"
    assert result.stderr == "", result
    text = good.read_text().replace("character_v1.safetensors", "nowhere_v9.safetensors")
    good.write_text(text)
    result = call_tower(capsys, "validate", str(good), config=config)
    assert result.code == 0, result
    assert (
        f"warning: {good}:{line_of(text, 'nowhere_v9')}: characters[0].lora: no online GPU node "
        "has loras/nowhere_v9.safetensors" in result.stderr
    ), result
    assert projects_named(tower, "Validated") == []


def test_submitting_the_same_file_again_updates_its_production(capsys, config, tmp_path, tower):
    path = small_file(tmp_path, "update-me", name="Updated Twice")
    first = call_tower(capsys, "submit", str(path), config=config)
    assert first.code == 0, first
    found = re.search(
        r"^submitted job (\d+): created project (\d+), episode (\d+)", first.stdout, re.M
    )
    assert found, first
    job, project, episode = found.groups()
    busy = call_tower(capsys, "submit", str(path), config=config)
    assert busy.code == 1, busy
    assert f"{path}:{line_of(SMALL, 'number: 1')}: episode.number: job {job} of this" in busy.stderr
    assert call_tower(capsys, "cancel", job, config=config).code == 0
    path.write_text(path.read_text().replace("rain over the city", "the rain stops"))
    again = call_tower(capsys, "submit", str(path), config=config)
    assert again.code == 0, again
    assert re.search(
        rf"^submitted job \d+: updated project {project}, episode {episode}, scenes",
        again.stdout,
        re.M,
    ), again
    assert len(projects_named(tower, "Updated Twice")) == 1
    scenes = tower.call("GET", f"/api/anime/episodes/{episode}/scenes")["items"]
    assert [s["prompt"] for s in sorted(scenes, key=lambda s: s["order"])] == [
        "Aki on a rooftop",
        "the rain stops",
    ]
    last = re.search(r"^submitted job (\d+)", again.stdout, re.M)[1]
    assert call_tower(capsys, "cancel", last, config=config).code == 0
    verdict = call_tower(capsys, "validate", str(path), config=config)
    assert f"would update project {project}, episode {episode}" in verdict.stdout, verdict
