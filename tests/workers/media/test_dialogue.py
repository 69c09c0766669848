"""Dialogue in the mix: lines spoken by espeak-ng at their times, subtitles in WebVTT and SRT."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared.errors import PermanentError
from tests.workers.media.conftest import FPS, H, W
from workers.episode_stage import SceneClip, mix_stage
from workers.media.compiler import ClipSpec, compile_episode
from workers.media.loudness import measure_file
from workers.media.pcm import MIX_RATE, decode_audio
from workers.media.speech import ESPEAK_VOICES, Espeak
from workers.media.subtitles import Subtitle, write_srt, write_vtt
from workers.storage import LocalStore

LINE = {"speaker": "Aki", "voice": "en-us+f3", "text": "It is raining again.", "at_s": 0.5}


def rms_db(samples: np.ndarray) -> float:
    """The RMS level of a stretch of samples in dBFS."""
    return 20 * np.log10(np.sqrt(np.mean(samples**2)) + 1e-12)


def test_subtitles_in_both_formats(tmp_path: Path) -> None:
    cues = [Subtitle(1.5, 3.25, "Aki", "Look <up>!"), Subtitle(3661.0, 3662.5, "", "two\n\nlines")]
    vtt = write_vtt(cues, tmp_path / "s.vtt").read_text()
    assert vtt == (
        "WEBVTT\n\n00:00:01.500 --> 00:00:03.250\n<v Aki>Look &lt;up&gt;!\n\n"
        "01:01:01.000 --> 01:01:02.500\ntwo lines\n"
    )
    srt = write_srt(cues, tmp_path / "s.srt").read_text()
    assert srt == (
        "1\n00:00:01,500 --> 00:00:03,250\nAki: Look <up>!\n\n"
        "2\n01:01:01,000 --> 01:01:02,500\ntwo lines\n"
    )


def test_default_voice_is_stable_per_name() -> None:
    espeak = Espeak()
    assert espeak.default_voice("Aki") == espeak.default_voice("Aki") in ESPEAK_VOICES
    assert len({espeak.default_voice(f"character {i}") for i in range(40)}) > 1


def test_speak_writes_the_line_and_refuses_an_unknown_voice(tmp_path: Path) -> None:
    speak = Espeak().speak
    seconds = speak("- a line that starts with a dash", tmp_path / "a.wav", voice="en-gb+m1")
    assert 0.5 < seconds < 10
    with pytest.raises(PermanentError, match="nosuchvoice"):
        speak("hello", tmp_path / "b.wav", voice="nosuchvoice")


@pytest.fixture(scope="module")
def compiled(clips, tmp_path_factory):
    """Two scenes joined with a crossfade: scene 1 starts at 1.0 s."""
    specs = [ClipSpec(clips["a"], "crossfade", 0.5), ClipSpec(clips["b"])]
    out = tmp_path_factory.mktemp("dialogue") / "episode.mp4"
    return compile_episode(specs, out, fps=FPS, width=W, height=H)


def test_mix_speaks_lines_at_their_time_and_writes_subtitles(compiled, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    clips = [SceneClip(compiled.path), SceneClip(compiled.path, dialogue=(LINE,))]
    artifacts = mix_stage(compiled.path, compiled, clips, [], store, "job1/mix/final.mp4")
    assert [a.kind for a in artifacts] == ["episode", "subtitles", "subtitles"]
    assert artifacts[0].facts["dialogue_lines"] == 1
    scene_start = [p for p in compiled.placements if p.kind == "scene"][1].start_s
    at = scene_start + 0.5
    vtt = store.path("job1/mix/final.vtt").read_text()
    assert "<v Aki>It is raining again." in vtt
    assert f"00:00:0{at:.3f} -->" in vtt
    assert "Aki: It is raining again." in store.path("job1/mix/final.srt").read_text()
    assert artifacts[1].facts["mime_type"] == "text/vtt"
    audio = decode_audio(store.path("job1/mix/final.mp4"))
    before = audio[: int((at - 0.1) * MIX_RATE)]
    speech = audio[int(at * MIX_RATE) : int((at + 0.8) * MIX_RATE)]
    assert rms_db(before) < -60 < -30 < rms_db(speech)


def test_dialogue_over_music_stays_within_the_loudness_target(
    compiled, library, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "store")
    clips = [SceneClip(compiled.path, mood="tense", dialogue=({**LINE, "at_s": 0.2},)),
             SceneClip(compiled.path, mood="happy")]  # fmt: skip
    artifacts = mix_stage(compiled.path, compiled, clips, library, store, "job2/mix/final.mp4")
    measured = measure_file(store.path(artifacts[0].key))
    assert abs(measured.integrated_lufs + 16.0) <= 1.0
    assert measured.true_peak_db is not None and measured.true_peak_db <= -1.0 + 0.3


def test_without_dialogue_the_mix_writes_no_subtitles(compiled, library, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    clips = [SceneClip(compiled.path), SceneClip(compiled.path)]
    artifacts = mix_stage(compiled.path, compiled, clips, library, store, "job3/mix/final.mp4")
    assert [a.kind for a in artifacts] == ["episode"]
