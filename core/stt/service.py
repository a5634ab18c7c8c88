"""The speech service that the CLI, the bot and the window share: decode, then transcribe."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from voxdesk.core.audio.decode import DecodeLimits, RawFormat, decode_to_pcm
from voxdesk.core.audio.pcm import Pcm
from voxdesk.core.config.secrets import SecretStore
from voxdesk.core.config.settings import Settings
from voxdesk.core.config.store import SettingsWatch
from voxdesk.core.stt.base import ProgressCallback, Transcriber, Transcript
from voxdesk.core.stt.engines import create_transcriber


class SpeechService:
    """Keeps one transcriber per engine (models load once) and applies the settings' limits."""

    def __init__(
        self,
        settings: Settings,
        secrets: SecretStore | None = None,
        engine_settings: SettingsWatch | None = None,
    ) -> None:
        self.settings = settings
        self._secrets = secrets or SecretStore()
        self._transcribers: dict[tuple[str, bool], Transcriber] = {}
        self._engine_settings = engine_settings  # a new model or thread count: new engines

    def transcriber(self, engine: str | None = None, *, words: bool = False) -> Transcriber:
        """``words``: an engine that times each word where it can (it costs some speed)."""
        if self._engine_settings is not None and self._engine_settings.changed():
            self._transcribers.clear()
        key = (engine or self.settings.speech.engine, words)
        if key not in self._transcribers:
            self._transcribers[key] = create_transcriber(
                key[0], self.settings, self._secrets, words=words
            )
        return self._transcribers[key]

    async def decode(
        self, source: Path | bytes, *, raw: RawFormat | None = None, name: str = "audio"
    ) -> Pcm:
        limits = DecodeLimits.from_settings(self.settings.audio)
        return await decode_to_pcm(source, limits, raw=raw, name=name)

    async def transcribe_pcm(
        self,
        audio: Pcm,
        *,
        engine: str | None = None,
        language: str | None = None,
        progress: ProgressCallback | None = None,
        words: bool = False,
    ) -> Transcript:
        language = language or self.settings.speech.language
        return await self.transcriber(engine, words=words).transcribe(
            audio, language=language, progress=progress
        )

    async def transcribe(
        self,
        source: Path | bytes,
        *,
        engine: str | None = None,
        language: str | None = None,
        raw: RawFormat | None = None,
        name: str = "audio",
        progress: ProgressCallback | None = None,
        words: bool = False,
    ) -> Transcript:
        """Decode ``source`` within the limits and transcribe it."""
        started = time.perf_counter()
        audio = await self.decode(source, raw=raw, name=name)
        decode_seconds = time.perf_counter() - started
        transcript = await self.transcribe_pcm(
            audio, engine=engine, language=language, progress=progress, words=words
        )
        timings = replace(transcript.timings, decode_seconds=decode_seconds)
        return replace(transcript, timings=timings)
