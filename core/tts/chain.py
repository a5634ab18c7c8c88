"""An ordered preference of voices: when one cannot speak, the next does.

gTTS needs Google, a Piper voice must be installed for the language, espeak-ng must be on the
machine. The chain tries them in order and says once, in the log and as a ``VoiceChanged``
event, when replies move to another voice and when they move back; not on every reply. A voice
that failed is skipped for a while, so that every reply does not wait for an unreachable server.
Empty text is no voice's failure: it is refused before any voice is tried.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from voxdesk.core.events import EventBus, VoiceChanged
from voxdesk.core.tts.base import (
    LanguageNotSpoken,
    Speech,
    SpeechError,
    SpeechFormat,
    Synthesizer,
    check_text,
)
from voxdesk.core.tts.languages import SpokenLanguage

log = logging.getLogger(__name__)

RETRY_AFTER = 60.0  # seconds a failed voice is skipped before it is tried again


class VoiceChain:
    def __init__(
        self,
        voices: Sequence[Synthesizer] | Callable[[], Sequence[Synthesizer]],
        events: EventBus | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        warn: bool = True,
    ) -> None:
        """``warn=False``: the front end tells of a change from the event itself (a command
        that speaks once), so the log has it at info level, not as a warning."""
        # A function gives the voices in force at each reply, so a settings change applies.
        self._voices = voices if callable(voices) else lambda: voices
        self._events = events
        self._clock = clock
        self._warn = warn
        self._failed_at: dict[tuple[str, str], float] = {}  # (voice, language or '') -> when
        self._language = SpokenLanguage()  # a short reply is spoken as the last sure one
        first = self._voices()
        self._speaking: str | None = first[0].name if first else None

    @property
    def voices(self) -> list[str]:
        """The voices' names, in the order they are tried."""
        return [voice.name for voice in self._voices()]

    @property
    def name(self) -> str:
        return self._speaking or "none"

    async def synthesize(self, text: str, *, language: str, output: SpeechFormat) -> Speech:
        """``text`` spoken in ``language`` (``auto``: its own) by the first voice that can."""
        text = check_text(text)
        language = await self._language.of(text, language)
        reasons: list[str] = []
        voices = self._voices()
        for voice in voices:
            keys = ((voice.name, ""), (voice.name, language))
            failed = [self._failed_at[key] for key in keys if key in self._failed_at]
            if any(self._clock() - at < RETRY_AFTER for at in failed):
                reasons.append(f"{voice.name}: failed a moment ago")
                continue
            try:
                speech = await voice.synthesize(text, language=language, output=output)
            except SpeechError as error:
                # A voice without this language may speak another; one that cannot reach its
                # server cannot for any (each language of 'auto' waited out gTTS's timeout).
                unspoken = isinstance(error, LanguageNotSpoken)
                self._failed_at[keys[1] if unspoken else keys[0]] = self._clock()
                reasons.append(f"{voice.name}: {str(error).rstrip('.')}")
                continue
            for key in keys:
                self._failed_at.pop(key, None)
            self._announce(voice.name, voices[0].name, reasons)
            return speech
        raise SpeechError(
            "No voice could speak: " + "; ".join(reasons) + ".",
            hint="Install espeak-ng or a Piper voice (voxdesk models list), or check the network.",
        )

    def _announce(self, speaking: str, preferred: str, reasons: list[str]) -> None:
        if speaking == self._speaking:
            return
        why = "; ".join(reasons)
        if speaking == preferred:
            log.info("Speaking with %s again", speaking)
        else:
            level = logging.WARNING if self._warn else logging.INFO
            log.log(level, "Speaking with %s instead of %s (%s)", speaking, preferred, why)
        self._speaking = speaking
        if self._events is not None:
            self._events.publish(VoiceChanged(engine=speaking, preferred=preferred, reason=why))
