"""!listen end to end: members speak on the loopback voice server, captions appear by name."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import srt

from tests.bridge.voice_loopback import VoiceRunning, frames_of, voice_bot, wait_until
from tests.fakes.discord_server import FakeUser
from voxdesk.bridge.voice.session import ListeningSession
from voxdesk.core.events import ListeningChanged, VoiceCaption

pytestmark = pytest.mark.slow  # Whisper transcribes what the members say

SAID = {"alice": "speechrec_english.wav", "bob": "pocketsphinx_librivox_0880.wav",
        "carol": "deepspeech_new_home_in_the_stars.wav"}  # fmt: skip
HEARD = {"alice": ("three", "3"), "bob": ("young man",), "carol": ("stars",)}


@pytest.fixture
async def running(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[VoiceRunning]:
    async with voice_bot(monkeypatch, dave=True) as running:
        yield running


def members(running: VoiceRunning) -> dict[str, FakeUser]:
    fake = running.discord
    return {"alice": fake.trainer, "bob": fake.member, "carol": fake.moderator}


async def start_listening(running: VoiceRunning) -> ListeningSession:
    fake, voice = running.discord, running.voice
    for user in members(running).values():
        await voice.join(user)
    await fake.post(fake.trainer, f"!listen <#{fake.chat}>")
    await fake.wait_for(lambda m: m["content"].startswith("🎙️ Listening in **Voice**"))
    await asyncio.wait_for(voice.ready.wait(), 15)
    cog = running.bridge.bot.get_cog("Listen")  # loaded as an extension: its own class object
    assert cog is not None
    session: ListeningSession = cog.sessions[fake.guild_id]  # type: ignore[attr-defined]
    return session


async def speak(running: VoiceRunning, names: list[str]) -> None:
    people = members(running)
    frames = {name: await frames_of(name) for name in names}
    await asyncio.gather(*(running.voice.speak(people[name], frames[name]) for name in names))


def final_caption(name: str) -> Any:
    return lambda m: m["content"].startswith(f"**{name}**:") and not m["content"].endswith("…")


async def test_three_members_are_captioned_by_name(running: VoiceRunning) -> None:
    fake = running.discord
    session = await start_listening(running)
    await speak(running, ["alice", "bob", "carol"])

    finals: list[VoiceCaption] = []

    def heard(name: str) -> str:  # "one, two, three" pauses: it may take two captions
        return " ".join(event.text for event in finals if event.speaker_name == name).lower()

    async with asyncio.timeout(120):
        while not all(any(w in heard(name) for w in words) for name, words in HEARD.items()):
            event = await running.events.get()
            if isinstance(event, VoiceCaption) and event.final:
                finals.append(event)
    for name in HEARD:
        caption = await fake.wait_for(final_caption(name), timeout=10)
        assert caption["channel_id"] == str(fake.chat)
    assert {event.speaker_name for event in finals} == set(HEARD)
    assert all(event.place.channel_id == fake.voice for event in finals)
    assert {line.speaker for line in session.lines} == set(HEARD)

    await fake.post(fake.trainer, "!transcript srt")
    reply = await fake.wait_for(lambda m: bool(m["attachments"]))
    assert reply["attachments"][0]["filename"] == "voice-Voice.srt"
    key = reply["attachments"][0]["url"].rsplit("/", 1)[1]
    cues = list(srt.parse(fake.cdn[key].decode()))
    assert {cue.content.split(":")[0] for cue in cues} == set(HEARD)
    assert [cue.start for cue in cues] == sorted(cue.start for cue in cues)


async def test_an_opted_out_member_is_never_transcribed(running: VoiceRunning) -> None:
    fake = running.discord
    await fake.post(fake.member, "!optout")  # bob
    await fake.wait_for(lambda m: m["content"].startswith("Your voice will not be transcribed"))
    assert running.services.settings.discord.listen_opt_outs == [fake.member.id]
    session = await start_listening(running)
    await speak(running, ["bob", "alice"])

    await fake.wait_for(final_caption("alice"), timeout=120)
    assert session.receiver is not None and session.receiver.stats.ignored > 20
    assert fake.member.id not in session.feeds  # no stream, so no recognition, ever
    assert all(stream.user_id != fake.member.id for stream in session.receiver.streams.values())
    assert not [m for m in fake.bot_messages if m["content"].startswith("**bob**")]

    await fake.post(fake.member, "!optin")
    await fake.wait_for(lambda m: m["content"].startswith("Your voice can be transcribed"))
    assert running.services.settings.discord.listen_opt_outs == []


async def test_only_trainers_start_and_leaving_ends_it(running: VoiceRunning) -> None:
    fake = running.discord
    await running.voice.join(fake.member)
    await fake.post(fake.member, "!listen")
    await fake.wait_for(lambda m: "Manage Server" in m["content"])
    session = await start_listening(running)
    changes = running.services.events.subscribe(ListeningChanged)

    await fake.post(fake.trainer, "!leave")
    await fake.wait_for(lambda m: m["content"] == "Stopped listening: I left the voice channel.")
    assert session.voice.receiver is None
    assert not (await changes.get()).listening


async def test_stop_deafens_and_speakers_beyond_the_limit_wait(running: VoiceRunning) -> None:
    fake = running.discord
    running.services.settings.discord.max_listened_speakers = 1
    changes = running.services.events.subscribe(ListeningChanged)
    await start_listening(running)
    await speak(running, ["alice", "carol"])

    await fake.wait_for(final_caption("alice"), timeout=120)
    await fake.wait_for(final_caption("carol"), timeout=120)
    details = []
    while (change := changes.get_nowait()) is not None:
        details.append(change.detail)
    assert any(detail.endswith("waits: all transcription slots are busy") for detail in details)

    await fake.post(fake.trainer, "!stop")
    await fake.wait_for(lambda m: m["content"] == "Stopped listening.")
    assert fake.bot_deafened  # Discord sends a deafened bot no audio at all
    withheld = running.voice.withheld
    await speak(running, ["bob"])
    assert running.voice.withheld > withheld


async def test_kicked_mid_utterance(running: VoiceRunning) -> None:
    fake = running.discord
    session = await start_listening(running)
    speaking = asyncio.create_task(speak(running, ["carol"]))
    assert session.receiver is not None
    await wait_until(lambda: session.receiver.stats.frames > 25)  # carol is mid-sentence
    await fake.join_voice(fake.bot, None)  # a moderator disconnects the bot
    await fake.wait_for(lambda m: m["content"] == "Stopped listening: I left the voice channel.")
    await speaking  # the rest of her sentence goes nowhere, and nothing breaks
    assert session.voice.receiver is None and not session.feeds


async def test_called_by_name_the_bot_answers_aloud_and_stops_when_talked_over(
    running: VoiceRunning,
) -> None:
    fake, openai = running.discord, running.openai
    running.services.settings.discord.wake_name = "we"  # carol's clip starts with it
    openai.reply = "Space is big. " * 12  # long enough to be talked over
    session = await start_listening(running)
    await speak(running, ["carol"])

    answer = await fake.wait_for(lambda m: m["content"].startswith("**voxdesk-bot** → "), 120)
    assert "Space is big." in answer["content"]
    question = openai.chat_requests[-1]["messages"][-1]["content"]
    assert "new home in the stars" in question.lower() and "we must" not in question.lower()
    voice = session.voice
    await wait_until(voice.is_playing)  # the answer is being spoken into the channel
    sent = len(running.voice.bot_packets)
    await speak(running, ["alice"])  # alice talks over the bot
    await wait_until(lambda: not voice.is_playing())
    assert len(running.voice.bot_packets) - sent < 12 * 50  # far less than the whole answer


async def test_opting_out_while_listening_stops_at_once(running: VoiceRunning) -> None:
    fake = running.discord
    session = await start_listening(running)
    await speak(running, ["carol"])
    await fake.wait_for(final_caption("carol"), timeout=120)
    assert fake.moderator.id in session.feeds

    await fake.post(fake.moderator, "!optout")  # carol
    await fake.wait_for(lambda m: m["content"].startswith("Your voice will not be transcribed"))
    assert fake.moderator.id not in session.feeds
    assert session.receiver is not None
    ignored = session.receiver.stats.ignored
    await speak(running, ["carol"])
    await wait_until(lambda: session.receiver.stats.ignored >= ignored + 100)
    assert fake.moderator.id not in session.feeds
    assert all(s.user_id != fake.moderator.id for s in session.receiver.streams.values())


async def test_captions_where_the_bot_may_not_post_start_nothing(running: VoiceRunning) -> None:
    """The announcement was refused (403) and the session went on: members captioned untold."""
    fake = running.discord
    await running.voice.join(fake.trainer)
    fake.forbidden_channels.add(fake.chat)
    await fake.post(fake.trainer, f"!listen <#{fake.chat}>")
    refused = await fake.wait_for(lambda m: m["content"].startswith("Discord did not let me"))
    assert "Missing Permissions" in refused["content"]
    cog = running.bridge.bot.get_cog("Listen")
    assert cog is not None and cog.sessions == {}  # type: ignore[attr-defined]
    assert fake.bot_deafened


async def test_a_member_cannot_end_a_trainers_captions_by_leave_or_join(
    running: VoiceRunning,
) -> None:
    """!stop is the trainers', but anyone's !leave (or !join elsewhere) ended the captions."""
    fake = running.discord
    session = await start_listening(running)
    await fake.post(fake.member, "!leave")
    refused = await fake.wait_for(lambda m: m["content"].startswith("I'm captioning my voice"))
    assert "`!optout` keeps your voice out" in refused["content"]
    elsewhere = await fake.create_voice_channel("Elsewhere")
    await fake.join_voice(fake.member, elsewhere)
    await fake.post(fake.member, "!join")
    await fake.wait_for(lambda m: sum(x["content"].startswith("I'm captioning") for x in
                                      fake.bot_messages) == 2)  # fmt: skip
    assert session.voice.receiver is not None and fake.voice_states[fake.bot.id] == fake.voice
