"""CMU PocketSphinx through SpeechRecognition: offline, English, the accuracy floor."""

from __future__ import annotations

import threading
import time

from voxdesk.core.audio.pcm import SAMPLE_WIDTH, Pcm
from voxdesk.core.stt.base import (
    EngineUnavailable,
    ProgressCallback,
    Segment,
    Timings,
    Transcript,
    split_language,
)
from voxdesk.core.stt.chunks import transcribe_in_chunks
from voxdesk.core.work import run_blocking

CHUNK_SECONDS = 30.0


class SphinxTranscriber:
    """``recognize_sphinx`` with the en-US model that SpeechRecognition ships."""

    @property
    def name(self) -> str:
        return "sphinx"

    async def transcribe(
        self,
        audio: Pcm,
        *,
        language: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transcript:
        if split_language(language) not in (None, "en"):
            raise EngineUnavailable(
                f"Sphinx ships an English model only, not '{language}'.",
                hint="Use the 'whisper' engine for other languages.",
            )
        started = time.perf_counter()
        segments = await run_blocking(
            lambda cancelled, report: self._run(audio, cancelled, report), progress
        )
        return Transcript(
            text=" ".join(segment.text for segment in segments),
            language="en",
            engine=self.name,
            model="en-US",
            timings=Timings(audio.duration, time.perf_counter() - started),
            segments=tuple(segments),
        )

    def _run(
        self, audio: Pcm, cancelled: threading.Event, report: ProgressCallback
    ) -> list[Segment]:
        import speech_recognition as sr

        recognizer = sr.Recognizer()

        def recognize(piece: Pcm) -> str:
            data = sr.AudioData(piece.data, piece.sample_rate, SAMPLE_WIDTH)
            try:
                return str(recognizer.recognize_sphinx(data, language="en-US"))
            except sr.UnknownValueError:
                return ""
            except sr.RequestError as error:  # pocketsphinx missing or its model broken
                raise EngineUnavailable(
                    f"PocketSphinx cannot run: {error}.", hint="pip install pocketsphinx"
                ) from error

        return transcribe_in_chunks(audio, CHUNK_SECONDS, recognize, cancelled, report)
