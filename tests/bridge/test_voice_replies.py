"""Voice messages to the bot get their transcript, then the assistant's answer, spoken in the
author's voice channel; per guild, trainers choose off, text or text+speech."""

from __future__ import annotations

from typing import Any

import pytest
from discord import app_commands

from bench.scoring import word_error_rate
from tests.bridge.conftest import RecordingVoiceClient, Running, next_event
from tests.bridge.test_transcription import voice_message
from tests.bridge.test_voice import voice_played
from tests.conftest import clip
from voxdesk.core.config import load_settings
from voxdesk.core.events import ReplySent, SettingsChanged
from voxdesk.core.training.store import Status

pytestmark = pytest.mark.slow

CLIP = "deepspeech_new_home_in_the_stars.wav"
HEARD = clip(CLIP).reference
REPLY = "Привет! Чем могу помочь?"  # the loopback OpenAI's answer


async def post_voice(running: Running, *, channel: int | None = None,
                     reply_to: int | None = None) -> int:  # fmt: skip
    fake = running.discord
    audio = fake.attachment(voice_message(CLIP), "voice-message.ogg", "audio/ogg", voice=True,
                            duration=3.6)  # fmt: skip
    return await fake.post(fake.member, attachments=[audio], voice=True,
                           channel=channel or fake.chat, reply_to=reply_to)  # fmt: skip


def answers(message_id: int) -> Any:
    """A predicate: the bot's reply to ``message_id`` that is not its transcript."""

    def check(message: dict[str, Any]) -> bool:
        reference = message.get("message_reference") or {}
        return reference.get("message_id") == str(message_id) and message["content"] == REPLY

    return check


def transcript_of(running: Running, message_id: int) -> dict[str, Any]:
    """The bot's final transcript of ``message_id``, already posted."""
    return next(m for m in running.discord.bot_messages
                if m["message_reference"]["message_id"] == str(message_id)
                and m["content"] not in ("🎙️ Transcribing…", REPLY)
                and not m["content"].startswith("Slow down"))  # fmt: skip


async def join_voice(running: Running) -> RecordingVoiceClient:
    fake = running.discord
    await fake.join_voice(fake.member, fake.voice)
    await fake.post(fake.member, "!join")
    await fake.wait_for(lambda m: m["content"].startswith("Joined Voice"))
    return RecordingVoiceClient.instances[-1]


async def transcript_dispatched(running: Running, message_id: int) -> str:
    """Wait until the bot hands the transcript of ``message_id`` to the chat; by then the chat's
    listener is scheduled, ahead of anything the test does next."""
    _, text = await running.bridge.bot.wait_for(
        "voice_transcript", check=lambda m, _: m.id == message_id, timeout=60
    )
    return str(text)


async def test_a_voice_message_gets_its_transcript_then_a_spoken_answer(running: Running) -> None:
    fake = running.discord
    voice = await join_voice(running)
    posted = await post_voice(running)
    answer = await fake.wait_for(answers(posted))
    transcript = transcript_of(running, posted)
    assert word_error_rate(HEARD, transcript["content"]) <= 0.1
    # the transcript was final before the answer was written
    assert fake.bot_messages.index(transcript) < fake.bot_messages.index(answer)
    asked = running.openai.chat_requests[-1]["messages"][-1]
    assert asked == {"role": "user", "content": transcript["content"], "name": "bob"}
    sent = await next_event(running, ReplySent)
    while sent.in_reply_to != posted:
        sent = await next_event(running, ReplySent)
    assert (
        sent.spoken
        and sent.question == transcript["content"]
        and sent.message_id == int(answer["id"])
    )
    await voice_played(voice)
    assert voice.played[0] > 25  # over half a second of speech
    # the exchange is the channel's conversation, as a typed one would be
    history = running.services.assistant.history(str(fake.chat))
    assert [m["content"] for m in history] == [transcript["content"], REPLY]


async def test_correct_and_feedback_on_a_spoken_answer(running: Running) -> None:
    fake, store = running.discord, running.services.datasets
    posted = await post_voice(running)
    answer = await fake.wait_for(answers(posted))
    heard = running.openai.chat_requests[-1]["messages"][-1]["content"]
    await fake.post(fake.member, f"!correct {answer['id']} Hello, stars.", channel=fake.chat)
    await fake.wait_for(lambda m: "Saved as candidate" in m["content"])
    await fake.post(fake.member, "!feedback too generic", channel=fake.chat)
    await fake.wait_for(lambda m: m["content"].startswith("Thanks for the feedback"))
    correction, feedback = await store.examples("discord", status=Status.CANDIDATE)
    assert correction.messages == [{"role": "user", "content": heard, "name": "bob"},
                                   {"role": "assistant", "content": "Hello, stars."}]  # fmt: skip
    assert word_error_rate(HEARD, heard) <= 0.1
    assert feedback.messages[0]["content"] == heard and feedback.messages[-1]["content"] == REPLY


async def test_voice_replies_text_off_and_saved(running: Running) -> None:
    fake = running.discord
    voice = await join_voice(running)
    await fake.post(fake.member, "!voice_replies off")
    await fake.wait_for(lambda m: "needs the 'Trainer' role" in m["content"])

    await fake.post(fake.trainer, "!voice_replies text")
    await fake.wait_for(lambda m: m["content"].endswith("my answer in text."))
    assert (await next_event(running, SettingsChanged)).keys == {"discord.guild_voice_replies"}
    posted = await post_voice(running)
    await fake.wait_for(answers(posted))
    sent = await next_event(running, ReplySent)
    while sent.in_reply_to != posted:
        sent = await next_event(running, ReplySent)
    assert not sent.spoken and not voice.spoke.is_set()  # bob is in voice, but text it is

    await fake.post(fake.trainer, "!voice_replies off")
    await fake.wait_for(lambda m: m["content"] == "Voice messages here get their transcript only.")
    asked = len(running.openai.chat_requests)
    quiet = await post_voice(running)
    await transcript_dispatched(running, quiet)
    typed = await fake.post(fake.member, "and this?", channel=fake.chat)
    await fake.wait_for(answers(typed))
    assert len(running.openai.chat_requests) == asked + 1  # the typed question only
    assert not [m for m in fake.bot_messages if answers(quiet)(m)]
    # saved in the settings file: a restarted bot reads it back
    saved = load_settings().discord
    assert saved.guild_voice_replies == {str(fake.guild_id): "off"}
    assert saved.voice_replies_for(fake.guild_id) == "off" and saved.voice_replies_for(None) == (
        "text+speech"
    )
    slash = running.bridge.bot.tree.get_command("voice_replies")  # the slash twin
    assert isinstance(slash, app_commands.Command)
    assert [choice.value for choice in slash.parameters[0].choices] == ["off", "text", "speech"]
    await fake.post(fake.trainer, "!voice_replies loud")
    await fake.wait_for(lambda m: m["content"].startswith("'loud' is not a choice"))


async def test_only_voice_messages_to_the_bot_are_answered(running: Running) -> None:
    fake = running.discord
    elsewhere = await post_voice(running, channel=fake.general)  # not to the bot: transcript only
    await transcript_dispatched(running, elsewhere)
    hello = await fake.post(fake.member, "hello", mention_bot=True)
    greeting = await fake.wait_for(answers(hello))
    assert not [m for m in fake.bot_messages if answers(elsewhere)(m)]
    assert len(running.openai.chat_requests) == 1
    # a voice message replying to the bot is addressed to it
    follow_up = await post_voice(running, channel=fake.general, reply_to=int(greeting["id"]))
    await fake.wait_for(answers(follow_up))


async def test_a_voice_message_costs_a_transcription_and_an_answer(running: Running) -> None:
    fake = running.discord
    running.services.settings.discord.cooldown_seconds = 60
    typed = await fake.post(fake.member, "first a question", channel=fake.chat)
    await fake.wait_for(answers(typed))
    posted = await post_voice(running)  # transcription window open, answer window used up
    slow = await fake.wait_for(lambda m: m["content"].startswith("Slow down: try again in"))
    assert slow["message_reference"]["message_id"] == str(posted)
    transcript = transcript_of(running, posted)
    assert word_error_rate(HEARD, transcript["content"]) <= 0.1  # transcribed all the same
    assert fake.bot_messages.index(transcript) < fake.bot_messages.index(slow)
    assert len(running.openai.chat_requests) == 1  # the refused answer cost nothing


async def test_words_typed_with_an_audio_file_come_before_its_transcript(running: Running) -> None:
    fake = running.discord
    audio = fake.attachment(voice_message(CLIP), "stars.ogg", "audio/ogg")
    posted = await fake.post(fake.member, "what did I say?", attachments=[audio], mention_bot=True)
    await fake.wait_for(answers(posted))
    heard = transcript_of(running, posted)["content"]
    asked = running.openai.chat_requests[-1]["messages"][-1]["content"]
    assert asked == f"what did I say?\n\n{heard}"


async def test_voice_replies_says_when_voice_messages_are_not_transcribed(running: Running) -> None:
    """With auto_transcribe off, !voice_replies promised a transcript and an answer."""
    fake = running.discord
    running.services.settings.discord.auto_transcribe = False
    await fake.post(fake.trainer, "!voice_replies")
    shown = await fake.wait_for(lambda m: m["content"].startswith("Voice messages to me here"))
    assert shown["content"].endswith("keeps discord.auto_transcribe off.")
