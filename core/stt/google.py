"""Google's free speech API through SpeechRecognition: the original bot's engine (network)."""

from __future__ import annotations

import threading
import time
from typing import Any

from voxdesk.core.audio.pcm import SAMPLE_WIDTH, Pcm
from voxdesk.core.stt.base import (
    ProgressCallback,
    Segment,
    Timings,
    Transcript,
    TranscriptionError,
)
from voxdesk.core.stt.chunks import transcribe_in_chunks
from voxdesk.core.work import run_blocking

# The API refuses long requests; the original bot sent whole files and failed on long ones.
CHUNK_SECONDS = 50.0


class GoogleTranscriber:
    """Transcribes with ``recognize_google``, one chunk per request, language required."""

    def __init__(
        self,
        *,
        default_language: str = "ru-RU",
        timeout: float = 30.0,
        endpoint: str | None = None,
    ) -> None:
        self._default_language = default_language
        self._timeout = timeout
        self._endpoint = endpoint

    @property
    def name(self) -> str:
        return "google"

    async def transcribe(
        self,
        audio: Pcm,
        *,
        language: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transcript:
        language = language if language and language != "auto" else self._default_language
        started = time.perf_counter()
        segments = await run_blocking(
            lambda cancelled, report: self._run(audio, language, cancelled, report), progress
        )
        return Transcript(
            text=" ".join(segment.text for segment in segments),
            language=language,
            engine=self.name,
            timings=Timings(audio.duration, time.perf_counter() - started),
            segments=tuple(segments),
        )

    def _run(
        self, audio: Pcm, language: str, cancelled: threading.Event, report: ProgressCallback
    ) -> list[Segment]:
        import speech_recognition as sr

        recognizer = sr.Recognizer()
        recognizer.operation_timeout = self._timeout
        return transcribe_in_chunks(
            audio,
            CHUNK_SECONDS,
            lambda piece: self._recognize(recognizer, piece, language),
            cancelled,
            report,
        )

    def _recognize(self, recognizer: Any, piece: Pcm, language: str) -> str:
        import speech_recognition as sr

        data = sr.AudioData(piece.data, piece.sample_rate, SAMPLE_WIDTH)
        options = {"endpoint": self._endpoint} if self._endpoint else {}
        try:
            return str(recognizer.recognize_google(data, language=language, **options))
        except sr.UnknownValueError:
            return ""  # Google heard no words in this piece
        except sr.RequestError as error:
            raise TranscriptionError(
                f"Google speech recognition failed: {error}.",
                hint="Check the internet connection, or use the offline 'whisper' engine.",
            ) from error
