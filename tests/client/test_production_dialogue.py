"""Dialogue and voices in production files: speakers by name, lines inside their scene."""

from __future__ import annotations

import pytest
from tower_client.production import ProductionError, parse_production

from tests.client.conftest import DEMO

LINES = """    dialogue:
      - {speaker: Aki, text: "The rain again.", at_s: 0.4}
"""


def with_dialogue(lines: str = LINES) -> str:
    """The demo production with `lines` added to its first scene and a voice for Aki."""
    text = DEMO.read_text()
    text = text.replace(
        "      - {name: chime, at_s: 0.2}\n", "      - {name: chime, at_s: 0.2}\n" + lines, 1
    )
    return text.replace("  - name: Aki\n", "  - name: Aki\n    voice: en-us+f3\n", 1)


def test_dialogue_and_voices_map_to_api_fields():
    production = parse_production(with_dialogue())
    assert production.scenes[0]["dialogue"] == [
        {"speaker": "Aki", "text": "The rain again.", "at_s": 0.4}
    ]
    assert production.scenes[1]["dialogue"] == []
    assert production.characters[0]["voice"] == "en-us+f3"


@pytest.mark.parametrize(
    ("lines", "field", "words"),
    [
        ('      - {speaker: Rin, text: "Hi", at_s: 0.4}\n', "dialogue[0].speaker", "no character"),
        ('      - {speaker: Aki, text: "Hi", at_s: 5}\n', "dialogue[0].at_s", "inside the scene"),
        ("      - {speaker: Aki, at_s: 1}\n", "dialogue[0].text", "required"),
    ],
)
def test_a_bad_line_is_named(lines, field, words):
    with pytest.raises(ProductionError) as caught:
        parse_production(with_dialogue("    dialogue:\n" + lines))
    text = "\n".join(caught.value.lines())
    assert f"scenes[0].{field}" in text and words in text
