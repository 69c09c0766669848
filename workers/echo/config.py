"""Echo Brain's settings (the LLM, and the speech server of dialogue), read from the farm
settings through one accessor each."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.settings_store import get_setting
from workers.echo.errors import LlmNotConfigured
from workers.media.speech import Espeak, Speaker

HOW_TO_CONFIGURE = (
    "Echo Brain has no LLM configured: an admin sets the farm settings llm_base_url to an "
    "OpenAI-compatible server (OpenAI, vLLM, llama.cpp's server, LM Studio, or Ollama's "
    "http://HOST:11434/v1) and llm_model to its chat model (llm_api_key when the server needs "
    "one), e.g. `tower settings set llm_base_url URL`, or starts the farm with "
    "TOWER_LLM_BASE_URL and TOWER_LLM_MODEL"
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


def llm_config() -> LlmConfig | None:
    """The LLM farm settings in effect, or None when Echo Brain has no server or model."""
    if not get_setting("llm_base_url") or not get_setting("llm_model"):
        return None
    return LlmConfig(
        base_url=get_setting("llm_base_url"),
        model=get_setting("llm_model"),
        api_key=get_setting("llm_api_key"),
        deadline_s=get_setting("llm_timeout_s"),
        retries=get_setting("llm_retries"),
        concurrency=get_setting("llm_concurrency"),
    )


def require_llm_config() -> LlmConfig:
    """The LLM farm settings in effect.

    :raises LlmNotConfigured: with how to configure one.
    """
    config = llm_config()
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


def speech_config() -> SpeechConfig | None:
    """The speech server's farm settings, or None when dialogue is spoken by espeak-ng."""
    if not get_setting("tts_base_url") or not get_setting("tts_model"):
        return None
    return SpeechConfig(
        get_setting("tts_base_url"), get_setting("tts_model"), get_setting("tts_api_key")
    )


def speaker_for(config: SpeechConfig | None) -> Speaker:
    """The speaker of dialogue: the configured speech server, else espeak-ng."""
    if config is None:
        return Espeak()
    # openai takes seconds to import: only workers that speak through a server pay for it.
    from workers.echo.speech import SpeechClient

    return SpeechClient(config)
