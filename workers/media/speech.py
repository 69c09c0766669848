"""Speaking dialogue lines with espeak-ng (Debian's `espeak-ng` package) into WAV files."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import wave
from pathlib import Path

from shared.errors import PermanentError

# Voices a character without its own gets, chosen by its name so it keeps the same one.
DEFAULT_VOICES = ("en-us+m3", "en-us+f3", "en-gb+m1", "en-gb+f2", "en-us+m7", "en-us+f4")
SPEAK_TIMEOUT_S = 60


def default_voice(name: str) -> str:
    """The voice a character speaks with when it has none of its own (stable per name)."""
    digest = hashlib.sha256(name.encode()).digest()
    return DEFAULT_VOICES[digest[0] % len(DEFAULT_VOICES)]


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


def speak(text: str, dest: Path, *, voice: str, words_per_minute: int = 165) -> float:
    """Speak `text` into the WAV file `dest`; its length in seconds.

    :raises PermanentError: when espeak-ng is missing or refuses the voice or text.
    """
    # The text goes on stdin so a line starting with "-" is never read as an option.
    argv = [find_espeak(), "--stdin", "-v", voice, "-s", str(words_per_minute), "-w", str(dest)]
    try:
        proc = subprocess.run(
            argv, input=text.encode(), capture_output=True, timeout=SPEAK_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise PermanentError(f"espeak-ng took over {SPEAK_TIMEOUT_S} s for one line") from exc
    if proc.returncode != 0 or not dest.exists():
        problem = proc.stderr.decode(errors="replace").strip() or f"exit {proc.returncode}"
        raise PermanentError(f"espeak-ng could not speak with voice {voice!r}: {problem}")
    with wave.open(str(dest), "rb") as audio:
        return audio.getnframes() / audio.getframerate()
