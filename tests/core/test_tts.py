"""Voices: espeak-ng offline in every output format; gTTS's errors without a network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.scoring import word_error_rate
from tests.conftest import GENEROUS
from voxdesk.core.audio import decode_to_pcm
from voxdesk.core.config.settings import TtsSettings
from voxdesk.core.events import EventBus, VoiceChanged
from voxdesk.core.stt.whisper import WhisperTranscriber
from voxdesk.core.tts import (
    EspeakSynthesizer,
    GttsSynthesizer,
    PiperSynthesizer,
    SpeechError,
    VoiceChain,
    create_synthesizer,
    create_voice,
    speakable,
)
from voxdesk.core.tts.chain import RETRY_AFTER
from voxdesk.core.tts.gtts_engine import _gtts_language
from voxdesk.core.tts.piper import InstalledVoice, best_voice

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
    assert "gtts, espeak, piper" in (raised.value.hint or "")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch, unused_tcp_port: int) -> None:
    """gTTS's HTTPS goes to a closed loopback port: it fails at once, no internet touched."""
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{unused_tcp_port}")
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{unused_tcp_port}")


@pytest.mark.slow
async def test_offline_the_next_voice_speaks_and_says_so_once(
    no_network: None, whisper: WhisperTranscriber
) -> None:
    now = [0.0]
    events = EventBus()
    changes = events.subscribe(VoiceChanged)
    chain = VoiceChain([GttsSynthesizer(timeout=5), PiperSynthesizer(), EspeakSynthesizer()],
                       events, clock=lambda: now[0])  # fmt: skip
    text = "We must find a new home in the stars."

    speech = await chain.synthesize(text, language="en", output="ogg")

    assert speech.engine == "piper" and chain.name == "piper"
    transcript = await whisper.transcribe(await decode_to_pcm(speech.data, GENEROUS))
    assert word_error_rate(text, transcript.text) <= 0.1  # a natural voice: understood
    change = changes.get_nowait()
    assert change is not None and (change.engine, change.preferred) == ("piper", "gtts")
    assert "could not reach Google" in change.reason
    for _ in range(2):  # later replies: gTTS skipped for a while, then tried again; no news
        now[0] += RETRY_AFTER / 2 + 1
        assert (await chain.synthesize("Again.", language="en", output="wav")).engine == "piper"
    assert changes.get_nowait() is None


async def test_no_piper_voice_for_the_language_falls_to_espeak() -> None:
    events = EventBus()
    changes = events.subscribe(VoiceChanged)
    chain = VoiceChain([PiperSynthesizer(), EspeakSynthesizer()], events)
    speech = await chain.synthesize("Привет!", language="ru", output="wav")
    assert speech.engine == "espeak"
    change = changes.get_nowait()
    assert change is not None and "No Piper voice for 'ru'" in change.reason
    assert "voxdesk models download ru_RU-irina-medium" not in change.reason  # hints stay out


async def test_empty_text_is_refused_without_counting_against_any_voice() -> None:
    chain = VoiceChain([EspeakSynthesizer()])
    with pytest.raises(SpeechError, match=r"^There is no text to speak\.$"):
        await chain.synthesize(" \n ", language="en", output="wav")
    assert (await chain.synthesize("Hello.", language="en", output="wav")).engine == "espeak"


async def test_when_no_voice_can_speak_one_error_names_each() -> None:
    chain = VoiceChain([PiperSynthesizer("ru_RU-irina-medium"),
                        EspeakSynthesizer(executable="/nonexistent/espeak-ng")])  # fmt: skip
    with pytest.raises(SpeechError, match="No voice could speak: piper: .*not installed.*; espeak"):
        await chain.synthesize("hello", language="en", output="wav")


async def test_the_preference_comes_from_the_settings_in_force() -> None:
    settings = TtsSettings(engine="piper", fallbacks=["espeak", "piper", "gtts"])
    voice = create_voice(settings)
    assert voice.voices == ["piper", "espeak", "gtts"]
    settings.engine = "espeak"  # as the settings store applies a change
    assert voice.voices == ["espeak", "piper", "gtts"]
    speech = await voice.synthesize("Hello.", language="en", output="wav")
    assert speech.engine == "espeak"


def test_the_best_voice_for_a_language() -> None:
    names = ("en_US-joe-medium", "en_GB-alan-low", "en_GB-alan-medium", "ru_RU-denis-medium")
    voices = [InstalledVoice(name, Path(name), bundled=False) for name in names]
    assert best_voice("en-GB", voices) == voices[2]
    assert best_voice("en", voices) == voices[0]  # quality first when no region is asked
    assert best_voice("ru", voices) == voices[3]
    assert best_voice("de", voices) is None


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


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("He was not an ill-disposed young man, unless to be rather cold hearted.", "en"),
        ("Мы должны найти новый дом среди звёзд.", "ru"),
        ("Wir müssen ein neues Zuhause zwischen den Sternen finden.", "de"),
        ("Ok", "en"),  # too short to tell: read as Hausa, below an even chance
    ],
)
async def test_auto_speaks_each_text_in_its_own_language(text: str, spoken: str) -> None:
    """An English answer was read with the Russian voice of tts.language's old default."""
    speech = await VoiceChain([EspeakSynthesizer()]).synthesize(text, language="auto", output="wav")
    assert (speech.engine, speech.language) == ("espeak", spoken)


async def test_a_language_set_is_spoken_whatever_the_text() -> None:
    speech = await VoiceChain([EspeakSynthesizer()]).synthesize(
        "Hello there, how are you?", language="ru", output="wav"
    )
    assert speech.language == "ru"
    assert TtsSettings().language == "auto"


async def test_a_reply_too_short_to_tell_is_spoken_as_the_last_sure_one() -> None:
    """ "Хорошо" alone reads as Ukrainian at 34 %: after Russian answers, it is Russian."""
    chain = VoiceChain([EspeakSynthesizer()])
    first = await chain.synthesize("Хорошо", language="auto", output="wav")
    assert first.language not in ("en", "ru")  # nothing sure yet: the best guess, in Cyrillic
    await chain.synthesize("Мы должны найти новый дом среди звёзд.", language="auto", output="wav")
    assert (await chain.synthesize("Хорошо", language="auto", output="wav")).language == "ru"


async def test_a_voice_that_cannot_reach_its_server_is_skipped_for_every_language(
    no_network: None,
) -> None:
    """Each language 'auto' told waited out gTTS's timeout again; a missing language still
    leaves the voice to speak others (Piper's bundled voice is English only)."""
    gtts = GttsSynthesizer(timeout=5)
    tried: list[str] = []
    original = gtts.synthesize

    async def counted(text: str, **options: Any) -> Any:
        tried.append(options["language"])
        return await original(text, **options)

    gtts.synthesize = counted  # type: ignore[method-assign]
    chain = VoiceChain([gtts, PiperSynthesizer(), EspeakSynthesizer()], clock=lambda: 0.0)
    english = await chain.synthesize("We must find a new home.", language="auto", output="wav")
    russian = await chain.synthesize("Мы должны найти новый дом.", language="auto", output="wav")
    assert (english.engine, russian.engine) == ("piper", "espeak")
    assert tried == ["en"]  # gTTS once, not again for Russian
    assert (await chain.synthesize("Hello again.", language="en", output="wav")).engine == "piper"
