"""Speech to text: one protocol, several engines, one service."""

from voxdesk.core.stt.base import (
    EngineUnavailable,
    ProgressCallback,
    Segment,
    Timings,
    Transcriber,
    Transcript,
    TranscriptionError,
)
from voxdesk.core.stt.engines import ENGINES, OFFLINE_ENGINES, create_transcriber
from voxdesk.core.stt.service import SpeechService

__all__ = [
    "ENGINES",
    "OFFLINE_ENGINES",
    "EngineUnavailable",
    "ProgressCallback",
    "Segment",
    "SpeechService",
    "Timings",
    "Transcriber",
    "Transcript",
    "TranscriptionError",
    "create_transcriber",
]
