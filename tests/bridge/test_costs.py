"""Work that costs money or CPU is bounded per member, and "slow down" is said once a window."""

from __future__ import annotations

import time
from typing import cast

import discord
import pytest

from tests.bridge.conftest import Running
from tests.bridge.test_transcription import collect_finals, voice_message
from tests.fakes.discord_server import FakeDiscord
from voxdesk.bridge.checks import MemberCooldown, SlowDown
from voxdesk.core.config import DiscordSettings


def slow_downs(fake: FakeDiscord) -> int:
    """Said in a message, or in a menu's answer (the fake shows that as a message too)."""
    return sum(m["content"].startswith("Slow down") for m in fake.bot_messages)


async def handled_so_far(fake: FakeDiscord) -> None:
    """Wait until the bot has answered a greeting posted now: the messages posted before it have
    been dispatched before it, and their handlers have run up to their first wait."""
    await fake.post(fake.moderator, "!hi")
    await fake.wait_for(lambda m: "Привет, carol" in m["content"])


async def test_a_burst_of_test_commands_is_one_openai_call(running: Running) -> None:
    fake = running.discord
    running.services.settings.discord.cooldown_seconds = 60
    for _ in range(50):
        await fake.post(fake.member, "!test hello")
    await fake.wait_for(lambda m: m["content"] == running.openai.reply)
    await fake.wait_for(lambda m: m["content"].startswith("Slow down: try again in"))
    await handled_so_far(fake)
    assert len(running.openai.chat_requests) == 1
    assert slow_downs(fake) == 1
    await fake.post(fake.trainer, "!test hello")  # another member has a window of their own
    await fake.wait_for(lambda m: len(running.openai.chat_requests) == 2)


async def test_chat_replies_and_test_share_a_window(running: Running) -> None:
    fake = running.discord
    running.services.settings.discord.cooldown_seconds = 60
    for text in ("hello", "are you there?", "hello??"):
        await fake.post(fake.member, text, channel=fake.chat)
    await fake.post(fake.member, "!test hello")
    await fake.wait_for(lambda m: m["content"] == running.openai.reply)
    await fake.wait_for(lambda m: m["content"].startswith("Slow down"))
    await handled_so_far(fake)
    assert len(running.openai.chat_requests) == 1
    assert slow_downs(fake) == 1


@pytest.mark.slow
async def test_transcribe_and_the_menu_share_the_voice_cooldown(running: Running) -> None:
    fake = running.discord
    settings = running.services.settings.discord
    settings.auto_transcribe = False
    settings.cooldown_seconds = 60
    audio = fake.attachment(voice_message("speechrec_english.wav"), "v.ogg", "audio/ogg")
    target = await fake.post(fake.member, attachments=[audio], voice=True)
    for _ in range(20):
        await fake.post(fake.trainer, "!transcribe", reply_to=target)
    for _ in range(3):
        await fake.use_context_menu(fake.trainer, "Transcribe", target)
    await collect_finals(fake, 1)
    await fake.wait_for(lambda m: m["content"].startswith("Slow down"))
    await handled_so_far(fake)
    assert sum(m["content"] == "🎙️ Transcribing…" for m in fake.bot_messages) == 1
    assert not any(r.get("type") == 5 for r in fake.interaction_responses)  # no menu run
    assert slow_downs(fake) == 1


@pytest.mark.slow
async def test_a_flood_of_voice_messages_hears_slow_down_once(running: Running) -> None:
    fake = running.discord
    running.services.settings.discord.cooldown_seconds = 60
    audio = voice_message("speechrec_english.wav")
    for index in range(10):
        clip = fake.attachment(audio, f"{index}.ogg", "audio/ogg")
        await fake.post(fake.member, attachments=[clip], voice=True)
    await collect_finals(fake, 1)
    await fake.wait_for(lambda m: m["content"].startswith("Slow down"))
    await handled_so_far(fake)
    assert sum(m["content"] == "🎙️ Transcribing…" for m in fake.bot_messages) == 1
    assert slow_downs(fake) == 1


def test_a_member_is_told_once_per_window(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])  # discord.py's cooldown clock too
    settings = DiscordSettings(cooldown_seconds=10)
    cooldown = MemberCooldown(settings)
    bob, alice = (cast(discord.abc.User, discord.Object(id)) for id in (1, 2))

    def refusal() -> SlowDown:
        with pytest.raises(SlowDown) as refused:
            cooldown.check(bob)
        return refused.value

    cooldown.check(bob)
    first = refusal()
    assert not first.repeated and first.retry_after == 10 and str(first).endswith("in 10 s.")
    clock[0] += 5
    assert refusal().repeated  # still the same window: not told again
    cooldown.check(alice)  # a window of her own
    clock[0] += 5.5
    cooldown.check(bob)  # a new window
    clock[0] += 1
    assert not refusal().repeated  # told once in this one too
    settings.cooldown_seconds = 0
    clock[0] += 10
    for _ in range(3):
        cooldown.check(bob)  # no cooldown configured: no limit
