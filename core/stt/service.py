"""The speech service that the CLI, the bot and the window share: decode, then transcribe."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Protocol, runtime_checkable

from voxdesk.core.audio.decode import DecodeLimits, RawFormat, decode_to_pcm
from voxdesk.core.audio.pcm import Pcm
from voxdesk.core.config.secrets import SecretStore
from voxdesk.core.config.settings import Settings
from voxdesk.core.config.store import SettingsWatch
from voxdesk.core.stt.base import (
    EngineUnavailable,
    ProgressCallback,
    Transcriber,
    Transcript,
    TranscriptionError,
)
from voxdesk.core.stt.engines import create_transcriber
from voxdesk.core.stt.languages import language_problem


@runtime_checkable
class Translator(Protocol):
    """An engine that can also write speech in any language as English text (Whisper's task)."""

    async def translate(
        self,
        audio: Pcm,
        *,
        language: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transcript:
        """``language``: the speech's language, None to detect it."""
        ...


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

    def check(
        self, engine: str | None = None, language: str | None = None, *, translate: bool = False
    ) -> None:
        """Raise the one-line error a request would meet: an unknown engine or language, or
        translation asked of an engine that cannot translate."""
        transcriber = self.transcriber(engine)
        _check_language(language or self.settings.speech.language, transcriber.name)
        if translate:
            _translator(transcriber)

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
        translate: bool = False,
    ) -> Transcript:
        """``translate``: English text, whatever language is spoken (whisper and openai)."""
        language = language or self.settings.speech.language
        transcriber = self.transcriber(engine, words=words)
        _check_language(language, transcriber.name)
        if not translate:
            return await transcriber.transcribe(audio, language=language, progress=progress)
        return await _translator(transcriber).translate(audio, language=language, progress=progress)

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
        translate: bool = False,
    ) -> Transcript:
        """Decode ``source`` within the limits and transcribe (or translate) it."""
        self.check(engine, language, translate=translate)  # before a long decode
        started = time.perf_counter()
        audio = await self.decode(source, raw=raw, name=name)
        decode_seconds = time.perf_counter() - started
        transcript = await self.transcribe_pcm(
            audio, engine=engine, language=language, progress=progress, words=words,
            translate=translate,
        )  # fmt: skip
        timings = replace(transcript.timings, decode_seconds=decode_seconds)
        return replace(transcript, timings=timings)


def _check_language(language: str, engine: str) -> None:
    if why := language_problem(language, engine):
        raise TranscriptionError(f"{why[0].upper()}{why[1:]}.")


def _translator(transcriber: Transcriber) -> Translator:
    if not isinstance(transcriber, Translator):
        raise EngineUnavailable(
            f"The {transcriber.name} engine cannot translate.",
            hint="Choose whisper or openai to translate speech into English.",
        )
    return transcriber
