"""OpenAI's transcription API (network, needs a key)."""

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


class OpenAITranscriber:
    """``audio.transcriptions`` with segments where the model returns them (whisper-1)."""

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
        client = self._client_factory()
        started = time.perf_counter()
        segments: list[Segment] = []
        detected = split_language(language)
        for start, piece in chunks(audio, CHUNK_SECONDS):
            result = await self._request(client, piece, split_language(language))
            detected = detected or language_code(getattr(result, "language", None))
            segments.extend(_segments(result, start, piece.duration))
            if progress:
                progress((start + piece.duration) / audio.duration)
        return Transcript(
            text=" ".join(segment.text for segment in segments),
            language=detected,
            engine=self.name,
            model=self._model,
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
