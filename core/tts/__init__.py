"""Text to speech: gTTS (the original bot's voice) and espeak-ng (offline), one interface."""

from voxdesk.core.tts.base import Speech, SpeechError, SpeechFormat, Synthesizer
from voxdesk.core.tts.espeak import EspeakSynthesizer
from voxdesk.core.tts.gtts_engine import GttsSynthesizer
from voxdesk.core.tts.speakable import speakable

TTS_ENGINES = ("gtts", "espeak")


def create_synthesizer(name: str, *, timeout: float = 30.0) -> Synthesizer:
    if name == "gtts":
        return GttsSynthesizer(timeout=timeout)
    if name == "espeak":
        return EspeakSynthesizer()
    raise SpeechError(
        f"Unknown voice engine '{name}'.", hint=f"Choose one of: {', '.join(TTS_ENGINES)}."
    )


__all__ = [
    "TTS_ENGINES",
    "EspeakSynthesizer",
    "GttsSynthesizer",
    "Speech",
    "SpeechError",
    "SpeechFormat",
    "Synthesizer",
    "create_synthesizer",
    "speakable",
]
