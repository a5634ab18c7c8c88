"""The offline voice: espeak-ng, run as a program (it speaks over a hundred languages)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil

from voxdesk.core.tts.base import (
    LanguageNotSpoken,
    Speech,
    SpeechError,
    SpeechFormat,
    check_text,
    encode,
)

_TIMEOUT = 60.0


class EspeakSynthesizer:
    def __init__(self, executable: str | None = None) -> None:
        self._executable = executable

    @property
    def name(self) -> str:
        return "espeak"

    async def synthesize(self, text: str, *, language: str, output: SpeechFormat) -> Speech:
        wav = await self._speak(check_text(text), _voice(language))
        return Speech(await encode(wav, "wav", output), output, self.name, language)

    async def _speak(self, text: str, voice: str) -> bytes:
        candidates = [self._executable] if self._executable else ["espeak-ng", "espeak"]
        executable = next(filter(None, map(shutil.which, candidates)), None)
        if executable is None:
            raise SpeechError(
                "The offline voice needs espeak-ng, which is not installed.",
                hint="Install it: apt-get install espeak-ng (or brew install espeak-ng).",
            )
        process = await asyncio.create_subprocess_exec(
            executable, "-v", voice, "--stdin", "--stdout",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            async with asyncio.timeout(_TIMEOUT):
                wav, errors = await process.communicate(text.encode("utf-8"))
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await asyncio.shield(process.wait())
        message = errors.decode("utf-8", "replace").strip()
        if process.returncode != 0 or not wav or "does not exist" in message:
            hint = "`espeak-ng --voices` lists the languages it speaks."
            if "voice" in message.lower():
                raise LanguageNotSpoken(f"espeak-ng has no voice for '{voice}'.", hint=hint)
            raise SpeechError(f"espeak-ng failed: {message or 'no audio produced'}.", hint=hint)
        return wav


def _voice(language: str) -> str:
    """espeak-ng names voices by lower-case language tags: 'ru', 'en-us', 'pt-br'."""
    return language.replace("_", "-").lower()
