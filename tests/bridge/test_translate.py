"""Translation in Discord: !translate on a replied message, the menu's Translate twin, one
cooldown with transcription, and English voice captions chosen per guild."""

from __future__ import annotations

import asyncio

import discord
import pytest
from discord import app_commands

from tests.bridge.conftest import Running, next_event
from tests.bridge.test_costs import handled_so_far
from tests.bridge.test_transcription import voice_message
from tests.bridge.voice_loopback import voice_bot
from tests.conftest import clip
from tests.fakes.discord_voice import opus_frames
from voxdesk.core.config import load_settings
from voxdesk.core.events import SettingsChanged, TranscriptReady

pytestmark = pytest.mark.slow  # Whisper translates

FRENCH = "speechrec_french.aiff"  # "et c'est la dictée numéro 1"


def english(message: dict[str, object]) -> bool:
    """Heard through Opus at 32 kbit/s, Whisper base says "dictation" or "dictate"."""
    text = str(message["content"]).lower()
    return "dictat" in text and "number" in text


async def post_french(running: Running) -> int:
    fake = running.discord
    running.services.settings.discord.auto_transcribe = False
    running.services.settings.speech.language = "en"  # the guild's speech: not what is said
    audio = fake.attachment(voice_message(FRENCH), "v.ogg", "audio/ogg")
    return await fake.post(fake.member, attachments=[audio], voice=True)


async def test_translate_command_as_a_reply(running: Running) -> None:
    fake = running.discord
    original = await post_french(running)
    await fake.post(fake.trainer, "!translate", reply_to=original)
    await fake.wait_for(lambda m: m["content"] == "🌐 Translating…")
    done = await fake.wait_for(english)
    assert done["message_reference"]["message_id"] == str(original)
    event = await next_event(running, TranscriptReady)
    assert event.language == "fr"  # detected, though the guild's speech is set to English
    await fake.post(fake.trainer, "!translate")
    await fake.wait_for(lambda m: "Reply to a voice message" in m["content"])


async def test_translate_from_the_context_menu(running: Running) -> None:
    fake = running.discord
    target = await post_french(running)
    await fake.use_context_menu(fake.trainer, "Translate to English", target)
    followup = await fake.wait_for(lambda m: bool(m.get("followup")))
    assert english(followup), followup["content"]
    assert fake.interaction_responses[0]["type"] == 5  # deferred: "the bot is thinking"


async def test_translation_shares_the_transcription_cooldown(running: Running) -> None:
    fake = running.discord
    running.services.settings.discord.cooldown_seconds = 60
    original = await post_french(running)
    await fake.post(fake.trainer, "!transcribe", reply_to=original)
    await next_event(running, TranscriptReady)
    await fake.use_context_menu(fake.trainer, "Translate to English", original)
    await handled_so_far(fake)  # the interaction's answer is no message to wait for
    refused = fake.interaction_responses[0]
    assert refused["type"] == 4 and refused["data"]["content"].startswith("Slow down")
    await fake.post(fake.trainer, "!translate", reply_to=original)  # told once: now silent
    await handled_so_far(fake)
    assert not [m for m in fake.bot_messages if "Translating" in m["content"] or m.get("followup")]


async def test_an_engine_that_cannot_translate_says_so(running: Running) -> None:
    fake = running.discord
    running.services.settings.speech.engine = "google"
    original = await post_french(running)
    await fake.post(fake.trainer, "!translate", reply_to=original)
    reason = await fake.wait_for(lambda m: m["content"].startswith("⚠️"))
    assert reason["content"] == (
        "⚠️ The google engine cannot translate. "
        "Choose whisper or openai to translate speech into English."
    )


async def test_english_voice_captions_per_guild(monkeypatch: pytest.MonkeyPatch) -> None:
    async with voice_bot(monkeypatch, dave=True) as running:
        fake, voice = running.discord, running.voice
        await fake.post(fake.member, "!translate_captions on")
        await fake.wait_for(lambda m: "needs the 'Trainer' role" in m["content"])
        await fake.post(fake.trainer, "!translate_captions on")
        await fake.wait_for(lambda m: "translated into English" in m["content"])
        assert (await next_event(running, SettingsChanged)).keys == {
            "discord.guild_translate_captions"
        }
        assert load_settings().discord.translates_captions(fake.guild_id)  # saved
        running.services.settings.discord.guild_languages = {str(fake.guild_id): "fr"}
        await voice.join(fake.trainer)
        await fake.post(fake.trainer, f"!listen <#{fake.chat}>")
        await fake.wait_for(lambda m: m["content"].startswith("🎙️ Listening in **Voice**"))
        await asyncio.wait_for(voice.ready.wait(), 15)
        await voice.speak(fake.trainer, opus_frames(await clip(FRENCH).decode()))
        name = fake.trainer.name
        caption = await fake.wait_for(
            lambda m: m["content"].startswith(f"**{name}**:") and not m["content"].endswith("…"),
            timeout=120,
        )
        assert english(caption), caption["content"]


async def test_the_menus_and_the_captions_slash_command(running: Running) -> None:
    tree = running.bridge.bot.tree
    menus = {command.name for command in tree.get_commands(type=discord.AppCommandType.message)}
    assert {"Transcribe", "Translate to English"} <= menus
    slash = tree.get_command("translate_captions")  # the slash twin of !translate_captions
    assert isinstance(slash, app_commands.Command)
    assert [choice.value for choice in slash.parameters[0].choices] == ["on", "off"]
