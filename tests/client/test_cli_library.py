"""`tower library` and `tower models` against a running farm (the demo library, two emulators)."""

from __future__ import annotations

from tests.client.cli_runner import call_tower


def test_library_lists_its_moods_and_sounds(capsys, config):
    moods = call_tower(capsys, "library", "moods", config=config)
    assert moods.code == 0, moods
    assert {"calm", "tense", "mysterious"} <= set(moods.stdout.split()), moods
    sounds = call_tower(capsys, "library", "sounds", config=config)
    assert sounds.code == 0, sounds
    assert {"whoosh", "hit", "chime", "impact"} <= set(sounds.stdout.split()), sounds
