"""Echo Brain's settings (the LLM, and the speech server of dialogue), each read through one
accessor so their source can change in one place."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.config import Settings
from workers.echo.errors import LlmNotConfigured
from workers.media.speech import Espeak, Speaker

HOW_TO_CONFIGURE = (
    "Echo Brain has no LLM configured: set LLM_BASE_URL to an OpenAI-compatible server "
    "(OpenAI, vLLM, llama.cpp's server, LM Studio, or Ollama's http://HOST:11434/v1) and "
    "LLM_MODEL to its chat model (LLM_API_KEY when the server needs one), then restart the web app"
)


@dataclass(frozen=True)
class LlmConfig:
    """Where Echo Brain's model is and how patiently to ask it."""

    base_url: str
    model: str
    api_key: str = field(default="", repr=False)
    deadline_s: float = 60.0
    retries: int = 2
    concurrency: int = 4
    backoff_s: float = 0.5


def llm_config(settings: Settings) -> LlmConfig | None:
    """The LLM settings, or None when Echo Brain has no server or model."""
    if not settings.llm_base_url or not settings.llm_model:
        return None
    return LlmConfig(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key,
        deadline_s=settings.llm_timeout_s,
        retries=settings.llm_retries,
        concurrency=settings.llm_concurrency,
    )


def require_llm_config(settings: Settings) -> LlmConfig:
    """The LLM settings.

    :raises LlmNotConfigured: with how to configure one.
    """
    config = llm_config(settings)
    if config is None:
        raise LlmNotConfigured(HOW_TO_CONFIGURE)
    return config


@dataclass(frozen=True)
class SpeechConfig:
    """An OpenAI-compatible speech server that speaks dialogue instead of espeak-ng."""

    base_url: str
    model: str
    api_key: str = field(default="", repr=False)
    timeout_s: float = 60.0


def speech_config(settings: Settings) -> SpeechConfig | None:
    """The speech server's settings, or None when dialogue is spoken by espeak-ng."""
    if not settings.tts_base_url or not settings.tts_model:
        return None
    return SpeechConfig(settings.tts_base_url, settings.tts_model, settings.tts_api_key)


def speaker_for(config: SpeechConfig | None) -> Speaker:
    """The speaker of dialogue: the configured speech server, else espeak-ng."""
    if config is None:
        return Espeak()
    # openai takes seconds to import: only workers that speak through a server pay for it.
    from workers.echo.speech import SpeechClient

    return SpeechClient(config)
