"""Speaking dialogue lines into audio files: espeak-ng (Debian's `espeak-ng` package) by default,
or any engine with the same two methods."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from shared.errors import PermanentError
from workers.media.pcm import MIX_RATE, decode_audio

# Voices a character without its own gets, chosen by its name so it keeps the same one.
ESPEAK_VOICES = ("en-us+m3", "en-us+f3", "en-gb+m1", "en-gb+f2", "en-us+m7", "en-us+f4")
SPEAK_TIMEOUT_S = 60


class Speaker(Protocol):
    """A text-to-speech engine."""

    def speak(self, text: str, dest: Path, *, voice: str) -> float:
        """Speak `text` into the audio file `dest`; its length in seconds."""

    def default_voice(self, name: str) -> str:
        """The voice of a character that has none of its own (stable per name)."""


def voice_for(name: str, voices: Sequence[str]) -> str:
    """One of `voices`, chosen by `name` so the same name always gets the same voice."""
    return voices[hashlib.sha256(name.encode()).digest()[0] % len(voices)]


def audio_seconds(path: Path) -> float:
    """The length of an audio file in seconds, as the mixer will read it.

    :raises FfmpegError: when it holds no decodable audio.
    """
    return len(decode_audio(path)) / MIX_RATE


def find_espeak() -> str:
    """The espeak-ng binary.

    :raises PermanentError: when it is not installed.
    """
    path = shutil.which("espeak-ng")
    if path is None:
        raise PermanentError(
            "espeak-ng is not installed on this CPU worker; `scripts/services packages` (or "
            "`apt-get install espeak-ng`) installs it"
        )
    return path


class Espeak:
    """espeak-ng, the default speaker: voices such as `en-us`, `en-gb+f2`."""

    def __init__(self, words_per_minute: int = 165) -> None:
        self.words_per_minute = words_per_minute

    def default_voice(self, name: str) -> str:
        """One of ESPEAK_VOICES, by name."""
        return voice_for(name, ESPEAK_VOICES)

    def speak(self, text: str, dest: Path, *, voice: str) -> float:
        """Speak `text` into the WAV file `dest`; its length in seconds.

        :raises PermanentError: when espeak-ng is missing or refuses the voice or text.
        """
        # The text goes on stdin so a line starting with "-" is never read as an option.
        argv = [find_espeak(), "--stdin", "-v", voice, "-s", str(self.words_per_minute),
                "-w", str(dest)]  # fmt: skip
        try:
            proc = subprocess.run(
                argv, input=text.encode(), capture_output=True, timeout=SPEAK_TIMEOUT_S,
                check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            raise PermanentError(f"espeak-ng took over {SPEAK_TIMEOUT_S} s for one line") from exc
        if proc.returncode != 0 or not dest.exists():
            problem = proc.stderr.decode(errors="replace").strip() or f"exit {proc.returncode}"
            raise PermanentError(f"espeak-ng could not speak with voice {voice!r}: {problem}")
        return audio_seconds(dest)
