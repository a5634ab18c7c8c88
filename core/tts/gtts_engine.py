"""Google Translate's voice through gTTS: the original bot's voice (network)."""

from __future__ import annotations

import asyncio
import io

from voxdesk.core.tts.base import (
    LanguageNotSpoken,
    Speech,
    SpeechError,
    SpeechFormat,
    check_text,
    encode,
)


class GttsSynthesizer:
    def __init__(self, *, timeout: float = 30.0) -> None:
        self._timeout = timeout

    @property
    def name(self) -> str:
        return "gtts"

    async def synthesize(self, text: str, *, language: str, output: SpeechFormat) -> Speech:
        mp3 = await asyncio.to_thread(self._speak, check_text(text), _gtts_language(language))
        return Speech(await encode(mp3, "mp3", output), output, self.name, language)

    def _speak(self, text: str, language: str) -> bytes:
        from gtts import gTTS, gTTSError

        buffer = io.BytesIO()
        try:
            gTTS(text, lang=language, timeout=self._timeout).write_to_fp(buffer)
        except ValueError as error:  # gTTS checks the language against its own list
            raise LanguageNotSpoken(
                f"gTTS does not speak '{language}'.", hint="Try the 'espeak' engine."
            ) from error
        except gTTSError as error:
            # With no response gTTS only guesses: "Failed to connect. Probable cause: Unknown"
            detail = "no connection" if error.rsp is None else str(error)
            raise SpeechError(
                f"gTTS could not reach Google ({detail}).",
                hint="Check the internet connection, or use the offline 'espeak' engine.",
            ) from error
        return buffer.getvalue()


def _gtts_language(language: str) -> str:
    """gTTS wants 'ru' or 'zh-CN', not 'ru-RU'."""
    language = language.replace("_", "-")
    primary, _, region = language.partition("-")
    if primary.lower() == "zh" and region:
        return f"zh-{region.upper()}"
    return primary.lower()
