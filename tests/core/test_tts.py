"""Voices: espeak-ng offline in every output format; gTTS's errors without a network."""

from __future__ import annotations

import pytest

from bench.scoring import word_error_rate
from tests.conftest import GENEROUS
from voxdesk.core.audio import decode_to_pcm
from voxdesk.core.stt.whisper import WhisperTranscriber
from voxdesk.core.tts import (
    EspeakSynthesizer,
    GttsSynthesizer,
    SpeechError,
    create_synthesizer,
    speakable,
)
from voxdesk.core.tts.gtts_engine import _gtts_language

MAGIC = {"ogg": b"OggS", "mp3": b"ID3", "wav": b"RIFF"}


@pytest.mark.parametrize("output", ["ogg", "mp3", "wav"])
async def test_espeak_speaks_every_format(output: str) -> None:
    speech = await EspeakSynthesizer().synthesize(
        "Привет! Как у тебя дела?",
        language="ru",
        output=output,  # type: ignore[arg-type]
    )
    assert speech.data.startswith(MAGIC[output])
    assert speech.format == output and speech.engine == "espeak"
    pcm = await decode_to_pcm(speech.data, GENEROUS)
    assert 0.8 < pcm.duration < 5
    assert pcm.samples().std() > 100


@pytest.mark.slow
async def test_espeak_english_is_understood_by_the_recogniser(
    whisper: WhisperTranscriber,
) -> None:
    text = "We must find a new home in the stars."
    speech = await EspeakSynthesizer().synthesize(text, language="en", output="ogg")
    transcript = await whisper.transcribe(await decode_to_pcm(speech.data, GENEROUS))
    assert transcript.language == "en"
    assert word_error_rate(text, transcript.text) <= 0.25  # a robotic voice: a word may slip


async def test_espeak_unknown_voice_and_empty_text() -> None:
    with pytest.raises(SpeechError, match="no voice for 'xx-nope'"):
        await EspeakSynthesizer().synthesize("hello", language="xx-nope", output="wav")
    with pytest.raises(SpeechError, match="no text"):
        await EspeakSynthesizer().synthesize("   ", language="en", output="wav")


async def test_espeak_missing_says_what_to_install() -> None:
    engine = EspeakSynthesizer(executable="/nonexistent/espeak-ng")
    with pytest.raises(SpeechError, match="needs espeak-ng") as raised:
        await engine.synthesize("hello", language="en", output="wav")
    assert "apt-get install espeak-ng" in (raised.value.hint or "")


async def test_gtts_without_network_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, unused_tcp_port: int
) -> None:
    # Route gTTS's HTTPS through a closed loopback port: it fails at once, no internet touched.
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{unused_tcp_port}")
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{unused_tcp_port}")
    with pytest.raises(SpeechError, match="could not reach Google") as raised:
        await GttsSynthesizer(timeout=5).synthesize("привет", language="ru-RU", output="ogg")
    assert "espeak" in (raised.value.hint or "")


async def test_gtts_rejects_unknown_languages_before_any_request() -> None:
    with pytest.raises(SpeechError, match="does not speak 'xx'"):
        await GttsSynthesizer().synthesize("hello", language="xx", output="ogg")


def test_gtts_language_tags() -> None:
    assert _gtts_language("ru-RU") == "ru"
    assert _gtts_language("en") == "en"
    assert _gtts_language("zh-cn") == "zh-CN"


def test_unknown_engine_names_the_choices() -> None:
    with pytest.raises(SpeechError, match="Unknown voice engine") as raised:
        create_synthesizer("festival")
    assert "gtts, espeak" in (raised.value.hint or "")


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("Here:\n```python\nprint(1)\n```\nDone.", "Here:\nDone."),
        ("```\ncut off before its end", ""),
        ("**Bold**, _italic_, ~~struck~~ and ||hidden||", "Bold, italic, struck and hidden"),
        ("snake_case_name costs 2*3*4 = 24", "snake_case_name costs 2*3*4 = 24"),
        ("Read [the docs](https://docs.python.org/3/) or https://www.example.com/a?b=1",
         "Read the docs or example.com"),
        ("Hi <@123>, see <#456> <:wave:789>!", "Hi, see!"),
        ("# Title\n> quoted\n- item\n2. second", "Title\nquoted\nitem\nsecond"),
        ("Run `pip install voxdesk`", "Run pip install voxdesk"),
    ],
)  # fmt: skip
def test_replies_are_made_fit_to_read_aloud(written: str, said: str) -> None:
    assert speakable(written) == said
