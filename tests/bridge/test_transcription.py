"""Voice messages and audio files become transcripts; bad attachments get a short reason."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bench.scoring import word_error_rate
from tests.bridge.conftest import Running, next_event
from tests.conftest import clip
from tests.fakes.discord_server import FakeDiscord
from voxdesk.core.audio.ffmpeg import ffmpeg_executable
from voxdesk.core.config import Settings
from voxdesk.core.events import TranscriptReady

pytestmark = pytest.mark.slow


def voice_message(name: str) -> bytes:
    """A corpus recording as Discord records voice messages: Ogg Opus, 48 kHz mono."""
    source = clip(name).path
    return subprocess.run(
        [ffmpeg_executable(), "-v", "error", "-i", str(source), "-ac", "1", "-ar", "48000",
         "-c:a", "libopus", "-b:a", "32k", "-f", "ogg", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip


def is_final(message: dict[str, object]) -> bool:
    return "Transcribing" not in str(message["content"])


async def test_a_voice_message_is_transcribed_in_place(running: Running) -> None:
    fake = running.discord
    audio = fake.attachment(voice_message("deepspeech_new_home_in_the_stars.wav"),
                            "voice-message.ogg", "audio/ogg", voice=True, duration=3.6)  # fmt: skip
    posted = await fake.post(fake.member, attachments=[audio], voice=True)
    placeholder = await fake.wait_for(lambda m: m["content"] == "🎙️ Transcribing…")
    final = await fake.wait_for(lambda m: m["id"] == placeholder["id"] and is_final(m))
    reference = clip("deepspeech_new_home_in_the_stars.wav").reference
    assert word_error_rate(reference, final["content"]) <= 0.1
    assert final["message_reference"]["message_id"] == str(posted)
    event = await next_event(running, TranscriptReady)
    assert event.message_id == posted and event.engine == "whisper" and event.language == "en"


async def test_every_audio_attachment_is_transcribed(running: Running) -> None:
    fake = running.discord
    first = fake.attachment(voice_message("speechrec_english.wav"), "a.ogg", "audio/ogg")
    second = fake.attachment(Path(clip("pocketsphinx_librivox_0880.wav").path).read_bytes(),
                             "b.wav", "audio/x-wav")  # fmt: skip
    picture = fake.attachment(b"\x89PNG\r\n\x1a\n" + bytes(64), "cat.png", "image/png")
    await fake.post(fake.member, "three files", attachments=[first, picture, second])
    await fake.wait_for(lambda m: "young man" in m["content"])
    await fake.wait_for(lambda m: "1, 2, 3" in m["content"] or "one" in m["content"].lower())
    placeholders = [m for m in fake.bot_messages if m["content"] == "🎙️ Transcribing…"]
    assert len(placeholders) == 2  # the picture is not audio: ignored, nothing crashed


async def test_oversized_and_fake_audio_get_a_reason(running: Running) -> None:
    fake = running.discord
    running.services.settings.audio.max_bytes = 20_000
    big = fake.attachment(bytes(50_000), "long.ogg", "audio/ogg")
    await fake.post(fake.member, attachments=[big])
    too_big = await fake.wait_for(
        lambda m: m["content"].startswith("⚠️") and "limit" in m["content"]
    )
    assert "MiB" in too_big["content"]
    fake_audio = fake.attachment(b"\x89PNG\r\n\x1a\n" + bytes(500), "voice.ogg", "audio/ogg")
    await fake.post(fake.member, attachments=[fake_audio], voice=True)
    reason = await fake.wait_for(lambda m: "PNG image, not audio" in m["content"])
    assert reason["content"].startswith("⚠️ The audio is")  # a sentence, not "⚠️ the audio"
    assert "Traceback" not in reason["content"] and "/tmp" not in reason["content"]


async def test_transcribe_command_as_a_reply(running: Running) -> None:
    fake = running.discord
    running.services.settings.discord.auto_transcribe = False
    audio = fake.attachment(voice_message("pocketsphinx_librivox_0880.wav"), "v.ogg", "audio/ogg")
    original = await fake.post(fake.member, attachments=[audio], voice=True)
    await fake.post(fake.trainer, "!transcribe", reply_to=original)
    done = await fake.wait_for(lambda m: "young man" in m["content"])
    assert done["message_reference"]["message_id"] == str(original)
    await fake.post(fake.trainer, "!transcribe")
    await fake.wait_for(lambda m: "Reply to a voice message" in m["content"])


async def test_transcribe_from_the_context_menu(running: Running) -> None:
    fake = running.discord
    running.services.settings.discord.auto_transcribe = False
    audio = fake.attachment(voice_message("speechrec_english.wav"), "v.ogg", "audio/ogg")
    target = await fake.post(fake.member, attachments=[audio], voice=True)
    await fake.use_context_menu(fake.trainer, "Transcribe", target)
    followup = await fake.wait_for(lambda m: bool(m.get("followup")))
    assert word_error_rate("one two three", followup["content"]) == 0
    assert fake.interaction_responses[0]["type"] == 5  # deferred: "the bot is thinking"


async def test_the_size_cap_holds_when_the_declared_size_lies(running: Running) -> None:
    fake = running.discord
    running.services.settings.audio.max_bytes = 20_000
    sneaky = fake.attachment(bytes(80_000), "voice.ogg", "audio/ogg")
    sneaky["size"] = 1_000  # declared small: only counting the download can catch it
    await fake.post(fake.member, attachments=[sneaky], voice=True)
    reason = await fake.wait_for(lambda m: m["content"].startswith("⚠️") and "limit" in m["content"])
    assert reason["content"].startswith("⚠️ The file is 0.1 MiB")  # counted, not as declared


async def test_transcription_has_a_per_user_cooldown(running: Running) -> None:
    fake = running.discord
    running.services.settings.discord.cooldown_seconds = 60
    first = fake.attachment(voice_message("speechrec_english.wav"), "a.ogg", "audio/ogg")
    second = fake.attachment(voice_message("speechrec_english.wav"), "b.ogg", "audio/ogg")
    await fake.post(fake.member, attachments=[first], voice=True)
    await fake.post(fake.member, attachments=[second], voice=True)
    await fake.wait_for(lambda m: m["content"].startswith("Slow down: try again in"))
    other = fake.attachment(voice_message("speechrec_english.wav"), "c.ogg", "audio/ogg")
    await fake.post(fake.trainer, attachments=[other], voice=True)  # another user is not slowed
    await collect_finals(fake, 2)


async def collect_finals(fake: FakeDiscord, count: int) -> None:
    """Wait until ``count`` transcripts of "one two three" have been posted."""

    def heard(message: dict[str, object]) -> bool:
        text = str(message["content"]).lower()
        return "1, 2, 3" in text or "one two" in text

    await fake.wait_for(lambda m: sum(heard(x) for x in fake.bot_messages) >= count)


async def test_the_guilds_language_is_used(running: Running) -> None:
    fake = running.discord
    running.services.settings.discord.guild_languages = {str(fake.guild_id): "fr-FR"}
    english = fake.attachment(voice_message("deepspeech_new_home_in_the_stars.wav"), "v.ogg",
                              "audio/ogg")  # fmt: skip
    await fake.post(fake.member, attachments=[english], voice=True)
    event = await next_event(running, TranscriptReady)
    assert event.language == "fr"  # English speech, so French was set, not detected


async def test_with_the_default_settings_the_spoken_language_is_detected(running: Running) -> None:
    """discord.language defaulted to ru-RU: English voice messages came out as Russian."""
    fake = running.discord
    running.services.settings.discord.language = Settings().discord.language  # the fixture's auto
    english = fake.attachment(voice_message("deepspeech_new_home_in_the_stars.wav"), "v.ogg",
                              "audio/ogg")  # fmt: skip
    await fake.post(fake.member, attachments=[english], voice=True)
    event = await next_event(running, TranscriptReady)
    assert event.language == "en" and "new home in the stars" in event.text.lower()
