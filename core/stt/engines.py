"""Building a transcriber by engine name from the settings."""

from __future__ import annotations

from functools import partial
from typing import Literal, get_args

from voxdesk.core.config.secrets import SecretStore
from voxdesk.core.config.settings import Settings
from voxdesk.core.stt.base import EngineUnavailable, Transcriber
from voxdesk.core.stt.google import GoogleTranscriber
from voxdesk.core.stt.sphinx import SphinxTranscriber
from voxdesk.core.stt.whisper import WhisperTranscriber

EngineName = Literal["whisper", "google", "openai", "sphinx"]
ENGINES: tuple[str, ...] = get_args(EngineName)
OFFLINE_ENGINES = ("whisper", "sphinx")


def create_transcriber(
    name: str, settings: Settings, secrets: SecretStore, *, words: bool = False
) -> Transcriber:
    """``words``: time each word, where the engine can (Whisper)."""
    speech = settings.speech
    if name == "whisper":
        return WhisperTranscriber(
            speech.whisper_model, threads=speech.whisper_threads, word_timestamps=words
        )
    if name == "google":
        return GoogleTranscriber(
            default_language=speech.google_language, timeout=speech.network_timeout
        )
    if name == "openai":
        # the OpenAI SDK is slow to import: only for the engine that needs it
        from voxdesk.core.openai_client import make_client
        from voxdesk.core.stt.openai_api import OpenAITranscriber

        factory = partial(make_client, settings.openai, secrets)
        return OpenAITranscriber(factory, settings.openai.transcription_model)
    if name == "sphinx":
        return SphinxTranscriber()
    raise EngineUnavailable(
        f"Unknown speech engine '{name}'.", hint=f"Choose one of: {', '.join(ENGINES)}."
    )
