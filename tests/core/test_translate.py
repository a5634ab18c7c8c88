"""Whisper's translate task: speech in any language as English text, offline and through OpenAI.

The French clip says "et c'est la dictée numéro 1" (the corpus manifest). Its English reference,
"and it's the dictation number one", is the word-for-word translation; a good translation may
say "that's" or "this is" for "c'est", so up to two words of six may differ.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bench.scoring import word_error_rate
from tests.conftest import clip
from tests.fakes.openai_server import API_KEY, FakeOpenAI
from voxdesk.core.audio import Pcm
from voxdesk.core.config import OpenAISettings, SecretStore, Settings
from voxdesk.core.openai_client import make_client
from voxdesk.core.stt import EngineUnavailable, SpeechService, TranscriptionError
from voxdesk.core.stt.openai_api import OpenAITranscriber
from voxdesk.core.stt.streaming import live_transcriber
from voxdesk.core.stt.whisper import WhisperTranscriber

FRENCH = "speechrec_french.aiff"
ENGLISH_REFERENCE = "and it's the dictation number one"
LENIENT_WER = 0.34  # two words of six


def assert_english(text: str) -> None:
    assert "dictation" in text.lower(), text
    assert word_error_rate(ENGLISH_REFERENCE, text) <= LENIENT_WER, text


@pytest.mark.slow
async def test_whisper_translates_french_speech_into_english(whisper: WhisperTranscriber) -> None:
    audio = await clip(FRENCH).decode()
    transcript = await whisper.translate(audio)
    assert_english(transcript.text)
    assert transcript.language == "fr"  # the language spoken, detected
    assert transcript.segments and transcript.segments[-1].end <= audio.duration


@pytest.mark.slow
async def test_the_service_translates_a_file_with_word_times() -> None:
    service = SpeechService(Settings())
    transcript = await service.transcribe(
        clip(FRENCH).path, language="fr", translate=True, words=True
    )
    assert_english(transcript.text)
    assert any(word.text.lower().startswith("dictation") for word in transcript.segments[0].words)


@pytest.mark.slow
async def test_whisper_streams_a_translation(whisper: WhisperTranscriber) -> None:
    audio = await clip(FRENCH).decode()
    live = live_transcriber(whisper, language="fr", translate=True)
    for start in range(0, len(audio.data), 32_000):  # one second at a time
        await live.feed(Pcm(audio.data[start : start + 32_000]))
    await live.finish()
    assert_english(live.transcript().text)


async def test_an_english_only_model_cannot_translate() -> None:
    english_only = WhisperTranscriber("tiny.en")
    audio = await clip(FRENCH).decode()
    with pytest.raises(EngineUnavailable, match="English only: it cannot translate") as raised:
        await english_only.translate(audio)
    assert "multilingual model such as 'base'" in raised.value.describe()


@pytest.mark.parametrize("engine", ["google", "sphinx"])
async def test_engines_that_cannot_translate_say_so_before_decoding(engine: str) -> None:
    service = SpeechService(Settings())
    with pytest.raises(EngineUnavailable) as raised:
        await service.transcribe(b"not even audio", engine=engine, language="en", translate=True)
    assert raised.value.describe() == (
        f"The {engine} engine cannot translate. "
        "Choose whisper or openai to translate speech into English."
    )


async def test_an_unknown_language_to_translate_from_is_one_line() -> None:
    service = SpeechService(Settings())
    with pytest.raises(TranscriptionError) as raised:
        await service.transcribe(clip(FRENCH).path, language="xx", translate=True)
    assert raised.value.describe() == (
        "The whisper engine does not know the language 'xx' (try 'en', 'ru' or 'auto')."
    )


@pytest.fixture
async def openai_server() -> AsyncIterator[FakeOpenAI]:
    server = await FakeOpenAI(transcript="et c'est la dictée numéro un").start()
    yield server
    await server.stop()


async def test_openai_translates_through_audio_translations(openai_server: FakeOpenAI) -> None:
    settings = OpenAISettings(base_url=openai_server.base_url, timeout=5, max_retries=0)
    secrets = SecretStore({"OPENAI_API_KEY": API_KEY})
    # the gpt-4o transcribe models cannot translate: translations use whisper-1
    engine = OpenAITranscriber(lambda: make_client(settings, secrets), "gpt-4o-transcribe")
    audio = await clip(FRENCH).decode()
    transcript = await engine.translate(audio, language="fr")
    assert transcript.text == openai_server.translation
    assert (transcript.language, transcript.model) == ("fr", "whisper-1")
    (sent,) = openai_server.requests_to("POST", "/v1/audio/")
    assert sent.path == "/v1/audio/translations"
    assert sent.body["model"] == "whisper-1" and "language" not in sent.body
    assert openai_server.spec_problems() == []
