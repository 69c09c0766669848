"""Dialogue spoken by an OpenAI-compatible speech endpoint (`/audio/speech`), not espeak-ng."""

from __future__ import annotations

from pathlib import Path

import httpx2
import openai

from shared.errors import PermanentError, TransientError, brief
from workers.echo.config import SpeechConfig
from workers.media.speech import audio_seconds, voice_for

# OpenAI's voices; a character names its own with `voice` (any the server offers).
OPENAI_VOICES = ("alloy", "echo", "fable", "onyx", "nova", "shimmer")


class SpeechClient:
    """A speaker (see workers.media.speech.Speaker) on an OpenAI-compatible server."""

    def __init__(self, config: SpeechConfig) -> None:
        self.config = config
        self.openai = openai.OpenAI(
            base_url=config.base_url,
            api_key=config.api_key or "unused",
            timeout=config.timeout_s,
            max_retries=2,
            organization=None,
            project=None,
        )

    def close(self) -> None:
        """Close the HTTP connections."""
        self.openai.close()

    def default_voice(self, name: str) -> str:
        """One of OPENAI_VOICES, by name."""
        return voice_for(name, OPENAI_VOICES)

    def speak(self, text: str, dest: Path, *, voice: str) -> float:
        """Speak `text` into the WAV file `dest`; its length in seconds.

        :raises TransientError: when the server is unreachable, busy or failing (5xx).
        :raises PermanentError: when it refuses the line (a voice or model it lacks).
        """
        try:
            response = self.openai.audio.speech.create(
                model=self.config.model, voice=voice, input=text, response_format="wav"
            )
            dest.write_bytes(response.content)
        except (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError,
                httpx2.TransportError) as exc:  # fmt: skip
            raise TransientError(f"the speech server failed: {brief(str(exc), 500)}") from exc
        except openai.APIStatusError as exc:
            raise PermanentError(
                f"the speech server refused voice {voice!r}: HTTP {exc.status_code}: "
                f"{brief(exc.message, 500)}"
            ) from exc
        return audio_seconds(dest)
