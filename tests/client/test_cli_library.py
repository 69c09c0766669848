"""`tower library` and `tower models` against a running farm (the demo library, two emulators)."""

from __future__ import annotations

import re

from tests.client.cli_runner import call_tower


def test_library_lists_its_moods_and_sounds(capsys, config):
    moods = call_tower(capsys, "library", "moods", config=config)
    assert moods.code == 0, moods
    assert {"calm", "tense", "mysterious"} <= set(moods.stdout.split()), moods
    sounds = call_tower(capsys, "library", "sounds", config=config)
    assert sounds.code == 0, sounds
    assert {"whoosh", "hit", "chime", "impact"} <= set(sounds.stdout.split()), sounds


def test_models_lists_the_farms_models_and_a_nodes_own(capsys, config):
    farm = call_tower(capsys, "models", config=config)
    assert farm.code == 0, farm
    assert farm.stdout.startswith("KIND"), farm
    assert re.search(r"^loras\s+hero_a\.safetensors\s+gpu-a,gpu-b$", farm.stdout, re.M), farm
    assert re.search(r"^motion_modules\s+mm_sd_v15_v2\.ckpt\s+gpu-a,gpu-b$", farm.stdout, re.M)
    assert re.search(r"^checkpoints\s+v1-5-pruned-emaonly", farm.stdout, re.M), farm
    own = call_tower(capsys, "models", "--node", "gpu-b", "--kind", "loras", config=config)
    assert own.code == 0, own
    lines = own.stdout.splitlines()[1:]
    assert lines and all(re.match(r"^loras\s+\S+\s+gpu-b$", line) for line in lines), own
    missing = call_tower(capsys, "models", "--node", "nope", config=config)
    assert missing.code == 1 and "not found" in missing.stderr, missing
