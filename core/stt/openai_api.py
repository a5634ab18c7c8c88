"""OpenAI's transcription and translation API (network, needs a key)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import openai

from voxdesk.core.audio.pcm import Pcm
from voxdesk.core.openai_client import explain
from voxdesk.core.stt.base import ProgressCallback, Segment, Timings, Transcript, split_language
from voxdesk.core.stt.chunks import chunks
from voxdesk.core.stt.languages import language_code

# The API takes files up to 25 MB; ten minutes of 16 kHz 16-bit WAV is about 19 MB.
CHUNK_SECONDS = 600.0
# audio.translations takes this model only (the gpt-4o transcribe models cannot translate).
# OpenAI has deprecated the endpoint (shut down on 2027-02-26, the SDK says); its successor,
# realtime translations, is a separate streaming integration. Offline Whisper translates too.
TRANSLATION_MODEL = "whisper-1"


class OpenAITranscriber:
    """``audio.transcriptions`` (and ``audio.translations`` into English) with segments where
    the model returns them (whisper-1)."""

    def __init__(self, client_factory: Callable[[], openai.AsyncOpenAI], model: str = "whisper-1"):
        self._client_factory = client_factory
        self._model = model

    @property
    def name(self) -> str:
        return "openai"

    async def transcribe(
        self,
        audio: Pcm,
        *,
        language: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transcript:
        return await self._run(audio, language, progress, translate=False)

    async def translate(
        self,
        audio: Pcm,
        *,
        language: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transcript:
        """English text of the speech; the API detects the language, ``language`` is only
        reported in the transcript (the endpoint takes none)."""
        return await self._run(audio, language, progress, translate=True)

    async def _run(
        self,
        audio: Pcm,
        language: str | None,
        progress: ProgressCallback | None,
        *,
        translate: bool,
    ) -> Transcript:
        started = time.perf_counter()
        segments: list[Segment] = []
        detected = split_language(language)
        model = TRANSLATION_MODEL if translate else self._model
        # A client per run, so a new key or base URL counts from the next one; closed after it,
        # or its connections outlive the run and the SDK closes them from the garbage collector.
        async with self._client_factory() as client:
            for start, piece in chunks(audio, CHUNK_SECONDS):
                if translate:
                    result = await self._translation(client, piece)
                else:
                    result = await self._request(client, piece, split_language(language))
                    detected = detected or language_code(getattr(result, "language", None))
                segments.extend(_segments(result, start, piece.duration))
                if progress:
                    progress((start + piece.duration) / audio.duration)
        return Transcript(
            text=" ".join(segment.text for segment in segments),
            language=detected,
            engine=self.name,
            model=model,
            timings=Timings(audio.duration, time.perf_counter() - started),
            segments=tuple(segments),
        )

    async def _request(self, client: openai.AsyncOpenAI, piece: Pcm, language: str | None) -> Any:
        verbose = self._model.startswith("whisper")
        options: dict[str, Any] = {"language": language} if language else {}
        try:
            return await client.audio.transcriptions.create(
                model=self._model,
                file=("audio.wav", piece.to_wav(), "audio/wav"),
                response_format="verbose_json" if verbose else "json",
                **options,
            )
        except openai.OpenAIError as error:
            raise explain(error) from error

    async def _translation(self, client: openai.AsyncOpenAI, piece: Pcm) -> Any:
        try:
            return await client.audio.translations.create(
                model=TRANSLATION_MODEL,
                file=("audio.wav", piece.to_wav(), "audio/wav"),
                response_format="verbose_json",
            )
        except openai.OpenAIError as error:
            raise explain(error) from error


def _segments(result: Any, offset: float, duration: float) -> list[Segment]:
    pieces = getattr(result, "segments", None)
    if pieces:
        return [
            Segment(offset + item.start, offset + item.end, item.text.strip())
            for item in pieces
            if item.text.strip()
        ]
    text = str(getattr(result, "text", "")).strip()
    return [Segment(offset, offset + duration, text)] if text else []
