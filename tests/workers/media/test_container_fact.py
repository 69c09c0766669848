"""A video's duration and audio track come from its MP4 tables, and from demuxing a file
without them; both ways agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.workers.media import footage
from tests.workers.media.conftest import SOURCES
from workers.media.probe import container_fact, probe_media
from workers.media.tool import run_ffmpeg


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A node-written MP4 without audio, the same with audio, and the latter as Matroska."""
    folder = tmp_path_factory.mktemp("container-fact")
    silent = footage.make_source(folder / "silent.mp4", SOURCES["a"], size=(64, 36), seconds=1.0)
    voiced = footage.add_audio(silent, folder / "voiced.mp4")
    matroska = folder / "voiced.mkv"
    run_ffmpeg(["-i", voiced, "-c", "copy", matroska])
    return {"silent": silent, "voiced": voiced, "matroska": matroska}


@pytest.mark.parametrize(
    ("name", "audio"), [("silent", False), ("voiced", True), ("matroska", True)]
)
def test_the_audio_track_is_found_as_the_demuxer_finds_it(videos, name, audio):
    assert container_fact(videos[name], "has_audio") is audio
    assert probe_media(videos[name]).has_audio is audio


@pytest.mark.parametrize("name", ["silent", "matroska"])
def test_the_duration_matches_the_demuxer(videos, name):
    assert container_fact(videos[name], "duration_s") == pytest.approx(
        probe_media(videos[name]).duration_s, abs=0.05
    )
