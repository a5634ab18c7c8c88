"""Google and OpenAI transcription through their real client libraries, on loopback servers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
import pytest

from tests.conftest import clip
from tests.fakes.google_speech import FakeGoogleSpeech
from tests.fakes.openai_server import API_KEY, FakeOpenAI
from voxdesk.core.audio import Pcm
from voxdesk.core.config import OpenAISettings, SecretStore
from voxdesk.core.openai_client import OpenAIError, make_client
from voxdesk.core.stt.base import TranscriptionError
from voxdesk.core.stt.google import GoogleTranscriber
from voxdesk.core.stt.languages import CODE_OF_NAME
from voxdesk.core.stt.openai_api import OpenAITranscriber


@pytest.fixture
async def google() -> AsyncIterator[FakeGoogleSpeech]:
    server = await FakeGoogleSpeech().start()
    yield server
    await server.stop()


@pytest.fixture
async def openai_server() -> AsyncIterator[FakeOpenAI]:
    server = await FakeOpenAI(transcript="one two three").start()
    yield server
    await server.stop()


def tone(seconds: float) -> Pcm:
    import numpy as np

    t = np.arange(int(16_000 * seconds)) / 16_000
    return Pcm((np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes())


async def test_google_sends_flac_in_the_default_language(google: FakeGoogleSpeech) -> None:
    engine = GoogleTranscriber(endpoint=google.endpoint, timeout=5)
    transcript = await engine.transcribe(await clip("speechrec_english.wav").decode())
    assert transcript.text == "heard 3 seconds"
    assert transcript.language == "ru-RU"  # the original bot's default
    assert google.heard[0].content_type.startswith("audio/x-flac")


async def test_google_takes_long_audio_in_chunks_with_progress(google: FakeGoogleSpeech) -> None:
    engine = GoogleTranscriber(endpoint=google.endpoint, timeout=5)
    seen: list[float] = []
    transcript = await engine.transcribe(tone(120), language="en-US", progress=seen.append)
    assert [request.seconds for request in google.heard] == [50.0, 50.0, 20.0]
    assert {request.language for request in google.heard} == {"en-US"}
    assert [(s.start, s.end) for s in transcript.segments] == [(0, 50), (50, 100), (100, 120)]
    assert seen == pytest.approx([50 / 120, 100 / 120, 1.0])


async def test_google_silence_is_no_words(google: FakeGoogleSpeech) -> None:
    transcript = await GoogleTranscriber(endpoint=google.endpoint).transcribe(Pcm(bytes(32000)))
    assert transcript.text == ""


async def test_google_server_error_is_clear(google: FakeGoogleSpeech) -> None:
    google.fail_with = 500
    with pytest.raises(TranscriptionError, match="Google speech recognition failed") as raised:
        await GoogleTranscriber(endpoint=google.endpoint).transcribe(tone(1))
    assert "offline" in (raised.value.hint or "")


async def test_google_unreachable_is_clear(unused_tcp_port: int) -> None:
    engine = GoogleTranscriber(endpoint=f"http://127.0.0.1:{unused_tcp_port}/x", timeout=2)
    with pytest.raises(TranscriptionError, match="failed"):
        await engine.transcribe(tone(1))


def openai_engine(
    server: FakeOpenAI, key: str = API_KEY, model: str = "whisper-1"
) -> OpenAITranscriber:
    settings = OpenAISettings(base_url=server.base_url, timeout=5, max_retries=2)
    secrets = SecretStore({"OPENAI_API_KEY": key})
    return OpenAITranscriber(lambda: make_client(settings, secrets), model)


async def test_openai_returns_segments_and_language(openai_server: FakeOpenAI) -> None:
    audio = await clip("speechrec_english.wav").decode()
    transcript = await openai_engine(openai_server).transcribe(audio, language="ru-RU")
    assert transcript.text == "one two three"
    assert transcript.language == "ru"
    assert transcript.segments[0].end == pytest.approx(audio.duration, abs=0.01)
    sent = openai_server.exchanges[0].body
    assert sent["language"] == "ru" and sent["response_format"] == "verbose_json"
    assert openai_server.spec_problems() == []


@pytest.mark.parametrize(("heard", "code"), [("english", "en"), ("haitian creole", "ht"),
                                             ("Cantonese", "yue"), ("burmese", "my")])  # fmt: skip
async def test_openai_detected_language_names_become_codes(
    openai_server: FakeOpenAI, heard: str, code: str
) -> None:
    openai_server.heard_language = heard
    transcript = await openai_engine(openai_server).transcribe(tone(2))
    assert transcript.language == code


def test_every_whisper_language_has_a_name() -> None:
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    assert set(CODE_OF_NAME.values()) == set(_LANGUAGE_CODES)


async def test_openai_plain_json_models(openai_server: FakeOpenAI) -> None:
    engine = openai_engine(openai_server, model="gpt-4o-transcribe")
    transcript = await engine.transcribe(tone(2))
    assert transcript.text == "one two three"
    assert openai_server.exchanges[0].body["response_format"] == "json"
    assert openai_server.spec_problems() == []


async def test_openai_retries_transient_errors(openai_server: FakeOpenAI) -> None:
    openai_server.fail_next(500, "boom")
    openai_server.fail_next(429, "slow down", **{"retry-after-ms": "10"})
    transcript = await openai_engine(openai_server).transcribe(tone(1))
    assert transcript.text == "one two three"


async def test_openai_rejected_key_is_clear(openai_server: FakeOpenAI) -> None:
    with pytest.raises(OpenAIError, match="rejected the API key"):
        await openai_engine(openai_server, key="sk-wrong-key-000000000").transcribe(tone(1))


async def test_openai_rate_limit_after_retries_is_clear(openai_server: FakeOpenAI) -> None:
    for _ in range(3):
        openai_server.fail_next(429, "quota", **{"retry-after-ms": "1"})
    with pytest.raises(OpenAIError, match="rate limit"):
        await openai_engine(openai_server).transcribe(tone(1))


async def test_openai_unreachable_is_clear(unused_tcp_port: int) -> None:
    settings = OpenAISettings(base_url=f"http://127.0.0.1:{unused_tcp_port}/v1", max_retries=0)
    client = make_client(settings, SecretStore({"OPENAI_API_KEY": API_KEY}))
    engine = OpenAITranscriber(lambda: client)
    with pytest.raises(OpenAIError, match="cannot be reached"):
        await engine.transcribe(tone(1))


def test_openai_without_a_key_says_how_to_set_one() -> None:
    from voxdesk.core.config import MissingSecret

    with pytest.raises(MissingSecret, match="No OpenAI API key") as raised:
        make_client(OpenAISettings(), SecretStore({}))
    assert "OPENAI_API_KEY" in (raised.value.hint or "")
    assert isinstance(openai.OpenAIError("x"), Exception)


async def test_openai_closes_its_client_after_each_run_even_a_failed_one(
    openai_server: FakeOpenAI,
) -> None:
    settings = OpenAISettings(base_url=openai_server.base_url, timeout=5, max_retries=0)
    secrets = SecretStore({"OPENAI_API_KEY": API_KEY})
    opened: list[openai.AsyncOpenAI] = []

    def recording() -> openai.AsyncOpenAI:
        opened.append(make_client(settings, secrets))
        return opened[-1]

    engine = OpenAITranscriber(recording)
    await engine.transcribe(tone(1))
    openai_server.fail_next(500, "boom")
    with pytest.raises(OpenAIError, match="500"):
        await engine.translate(tone(1))
    assert [client.is_closed() for client in opened] == [True, True]
