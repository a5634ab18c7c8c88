"""Text to speech: gTTS (the original bot's voice), Piper and espeak-ng (offline), one interface,
and a preference of voices where the next speaks when one cannot."""

from __future__ import annotations

from typing import TYPE_CHECKING

from voxdesk.core.tts.base import LanguageNotSpoken, Speech, SpeechError, SpeechFormat, Synthesizer
from voxdesk.core.tts.chain import VoiceChain
from voxdesk.core.tts.espeak import EspeakSynthesizer
from voxdesk.core.tts.gtts_engine import GttsSynthesizer
from voxdesk.core.tts.piper import PiperSynthesizer
from voxdesk.core.tts.speakable import speakable

if TYPE_CHECKING:
    from voxdesk.core.config.settings import TtsSettings
    from voxdesk.core.events import EventBus

TTS_ENGINES = ("gtts", "espeak", "piper")


def create_synthesizer(
    name: str, *, timeout: float = 30.0, piper_voice: str | None = None
) -> Synthesizer:
    if name == "gtts":
        return GttsSynthesizer(timeout=timeout)
    if name == "espeak":
        return EspeakSynthesizer()
    if name == "piper":
        return PiperSynthesizer(piper_voice or None)
    raise SpeechError(
        f"Unknown voice engine '{name}'.", hint=f"Choose one of: {', '.join(TTS_ENGINES)}."
    )


def create_voice(
    settings: TtsSettings, events: EventBus | None = None, *, warn: bool = True
) -> VoiceChain:
    """The preferred voice, then the fallbacks, each once, as the settings order them at each
    reply (the settings store changes ``settings`` in place). ``warn``: see ``VoiceChain``."""

    def voices() -> list[Synthesizer]:
        names = dict.fromkeys([settings.engine, *settings.fallbacks])
        return [create_synthesizer(name, piper_voice=settings.piper_voice) for name in names]

    return VoiceChain(voices, events, warn=warn)


__all__ = [
    "TTS_ENGINES",
    "EspeakSynthesizer",
    "GttsSynthesizer",
    "LanguageNotSpoken",
    "PiperSynthesizer",
    "Speech",
    "SpeechError",
    "SpeechFormat",
    "Synthesizer",
    "VoiceChain",
    "create_synthesizer",
    "create_voice",
    "speakable",
]
