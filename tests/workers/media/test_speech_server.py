"""Dialogue spoken by an OpenAI-compatible speech endpoint (a real server process) in the mix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.errors import PermanentError, TransientError
from tests.support.llm_server import LlmServer, start_llm_server
from tests.workers.media.conftest import FPS, H, W
from workers.echo.config import SpeechConfig
from workers.echo.speech import OPENAI_VOICES, SpeechClient
from workers.episode_stage import SceneClip, mix_stage
from workers.media.compiler import ClipSpec, compile_episode
from workers.storage import LocalStore

OK = {"content": ""}


@pytest.fixture(scope="module")
def server() -> Iterator[LlmServer]:
    """The scripted server, answering speech requests."""
    process = start_llm_server()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def speaker(server) -> Iterator[SpeechClient]:
    """A speech client of the scripted server."""
    client = SpeechClient(SpeechConfig(server.url, "tts-test", timeout_s=10))
    yield client
    client.close()


def test_a_line_is_spoken_by_the_server(server, speaker, tmp_path: Path) -> None:
    server.script(default=OK)
    seconds = speaker.speak("Hold on, Aki.", tmp_path / "a.wav", voice="nova")
    assert seconds == pytest.approx(0.06 * len("Hold on, Aki."), abs=0.02)
    (request,) = server.requests()
    assert (request["model"], request["voice"], request["input"]) == ("tts-test", "nova",
                                                                      "Hold on, Aki.")  # fmt: skip
    assert request["response_format"] == "wav"
    assert speaker.default_voice("Aki") in OPENAI_VOICES


def test_server_failures_are_transient_and_refusals_permanent(server, speaker, tmp_path):
    server.script(default={"status": 503, "message": "warming up"})
    with pytest.raises(TransientError):
        speaker.speak("Hi", tmp_path / "a.wav", voice="nova")
    server.script({"status": 400, "message": "unknown voice 'zz'"})
    with pytest.raises(PermanentError, match="unknown voice"):
        speaker.speak("Hi", tmp_path / "b.wav", voice="zz")


def test_the_mix_speaks_through_the_server(server, speaker, clips, tmp_path: Path) -> None:
    server.script(default=OK)
    compiled = compile_episode([ClipSpec(clips["a"])], tmp_path / "ep.mp4", fps=FPS, width=W,
                               height=H)  # fmt: skip
    line = {"speaker": "Aki", "voice": "echo", "text": "Rain.", "at_s": 0.2}
    store = LocalStore(tmp_path / "store")
    clip = SceneClip(compiled.path, dialogue=(line,))
    artifacts = mix_stage(compiled.path, compiled, [clip], [], store, "j/mix/final.mp4",
                          speaker=speaker)  # fmt: skip
    assert [a.kind for a in artifacts] == ["episode", "subtitles", "subtitles"]
    assert [r["voice"] for r in server.requests()] == ["echo"]
