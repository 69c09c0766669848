"""Echo Brain's accessors read the farm settings: the LLM, and who speaks dialogue."""

from __future__ import annotations

from contextlib import contextmanager

from workers.echo.config import llm_config, speaker_for, speech_config
from workers.echo.speech import SpeechClient
from workers.media.speech import Espeak


@contextmanager
def defaults(app, **given):
    """The app's settings with these farm-setting defaults, for the block."""
    original = app.config["SETTINGS"]
    app.config["SETTINGS"] = original.with_overrides(
        setting_defaults={**original.setting_defaults, **given}
    )
    try:
        with app.app_context():
            yield
    finally:
        app.config["SETTINGS"] = original


def test_without_a_server_and_model_echo_brain_and_speech_are_off(app):
    with defaults(app, llm_base_url="http://127.0.0.1:9/v1", tts_base_url="http://127.0.0.1:9"):
        assert llm_config() is None and speech_config() is None
        assert isinstance(speaker_for(speech_config()), Espeak)


def test_the_settings_in_effect_make_the_configs(app):
    with defaults(app, llm_base_url="http://h/v1", llm_model="m", llm_timeout_s=5.0,
                  tts_base_url="http://h/v1", tts_model="tts-1", tts_api_key="k"):  # fmt: skip
        config = llm_config()
        assert (config.base_url, config.model, config.deadline_s) == ("http://h/v1", "m", 5.0)
        assert (config.retries, config.concurrency) == (2, 4)
        speaker = speaker_for(speech_config())
        assert isinstance(speaker, SpeechClient) and speaker.config.api_key == "k"
        speaker.close()
