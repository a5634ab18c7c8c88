"""Voices benchmark: time to first audio and real-time factor of every installed voice.

    python -m bench.tts

Each voice speaks the same English or Russian sentences as a reply would be spoken (ogg/opus,
Discord's format). Time to first audio is the first reply's wait, a voice loaded from cold; the
real-time factor is synthesis time over audio length on the replies after it. gTTS is measured
the same way; with no route to Google (as on the test machines) its row says how long it takes
to fail, which is what a reply waits before the next voice speaks.
"""

from __future__ import annotations

import asyncio
import time

from rich.console import Console
from rich.table import Table

from tests.conftest import GENEROUS
from voxdesk.core.audio import decode_to_pcm
from voxdesk.core.tts import (
    EspeakSynthesizer,
    GttsSynthesizer,
    PiperSynthesizer,
    SpeechError,
    Synthesizer,
)
from voxdesk.core.tts.piper import installed_voices

SENTENCES = {
    "en": ["We must find a new home in the stars.",
           "The quick brown fox jumps over the lazy dog, and then it runs away.",
           "Please send the report before the meeting on Friday morning."],
    "ru": ["Привет! Как у тебя дела?",
           "Сегодня хорошая погода, давай пойдём гулять в парк.",
           "Пожалуйста, отправь отчёт до собрания в пятницу утром."],
}  # fmt: skip


async def measure(voice: Synthesizer, language: str) -> tuple[str, str, str]:
    first, *rest = SENTENCES[language]
    started = time.perf_counter()
    try:
        await voice.synthesize(first, language=language, output="ogg")
    except SpeechError as error:
        return f"fails in {time.perf_counter() - started:.2f} s", "-", str(error)[:60]
    ttfa = time.perf_counter() - started
    spent = heard = 0.0
    for sentence in rest:
        started = time.perf_counter()
        speech = await voice.synthesize(sentence, language=language, output="ogg")
        spent += time.perf_counter() - started
        heard += (await decode_to_pcm(speech.data, GENEROUS)).duration
    return f"{ttfa:.2f} s", f"{spent / heard:.3f}", ""


async def main() -> None:
    voices: list[tuple[str, Synthesizer, str]] = [("gtts", GttsSynthesizer(timeout=10), "en")]
    for voice in installed_voices():
        language = voice.locale.split("_")[0]
        if language in SENTENCES:
            voices.append((f"piper {voice.name}", PiperSynthesizer(voice.name), language))
    voices += [
        ("espeak-ng en", EspeakSynthesizer(), "en"),
        ("espeak-ng ru", EspeakSynthesizer(), "ru"),
    ]
    table = Table("voice", "language", "time to first audio", "real-time factor", "note")
    for label, voice, language in voices:
        table.add_row(label, language, *await measure(voice, language))
    Console().print(table)


if __name__ == "__main__":
    asyncio.run(main())
