"""The receive layer with discord.py's real voice client against the loopback voice server."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator

import discord
import pytest

from tests.bridge.voice_loopback import (
    CLIPS,
    VoiceRunning,
    frames_of,
    similarity,
    speech,
    voice_bot,
    wait_until,
)
from tests.conftest import corpus_clips
from tests.fakes.discord_voice import Faults, opus_frames, seal
from voxdesk.bridge.voice.receiver import ListeningVoiceClient, Receiver
from voxdesk.core.audio.pcm import Pcm


class Heard:
    """What a receiver hands on, per member."""

    def __init__(self) -> None:
        self.pcm: dict[int, bytearray] = defaultdict(bytearray)
        self.changed = asyncio.Event()

    def __call__(self, user_id: int, pcm: Pcm) -> None:
        self.pcm[user_id] += pcm.data
        self.changed.set()

    def of(self, user_id: int) -> Pcm:
        return Pcm(bytes(self.pcm[user_id]))

    async def until(self, user_id: int, seconds: float) -> Pcm:
        async with asyncio.timeout(20):
            while self.of(user_id).duration < seconds:
                self.changed.clear()
                await self.changed.wait()
        return self.of(user_id)


async def connected(running: VoiceRunning) -> ListeningVoiceClient:
    fake = running.discord
    channel = running.bridge.bot.get_channel(fake.voice)
    assert isinstance(channel, discord.VoiceChannel)
    client = await channel.connect(cls=ListeningVoiceClient, self_deaf=False, timeout=15)
    assert isinstance(client, ListeningVoiceClient)
    await asyncio.wait_for(running.voice.ready.wait(), 15)
    return client


@pytest.fixture(params=[False, True], ids=["dave-v0", "dave-v1"])
async def running(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[VoiceRunning]:
    async with voice_bot(monkeypatch, dave=request.param) as running:
        yield running


async def test_three_members_are_heard_apart(running: VoiceRunning) -> None:
    fake, voice = running.discord, running.voice
    members = {"alice": fake.trainer, "bob": fake.member, "carol": fake.moderator}
    for user in members.values():
        await voice.join(user)
    client = await connected(running)
    heard = Heard()
    receiver = client.listen(heard, lambda user_id: True)
    said = {name: await speech(name) for name in CLIPS}
    frames = {name: await frames_of(name) for name in CLIPS}
    await asyncio.gather(*(voice.speak(members[name], frames[name], pace=0.004) for name in CLIPS))

    for name, user in members.items():
        got = await heard.until(user.id, said[name].duration)
        assert similarity(got, said[name]) > 0.8, name
        others = [similarity(got, said[other]) for other in CLIPS if other != name]
        assert max(others) < 0.3, name  # each member's stream holds their speech only
    assert receiver.stats.undecryptable == receiver.stats.dave_failures == 0
    assert receiver.stats.unknown_ssrc == receiver.stats.undecodable == 0
    if voice.dave:
        assert (
            client._connection.dave_protocol_version == 1 and client._connection.dave_session.ready
        )


async def test_bad_packets_are_counted_and_dropped(running: VoiceRunning) -> None:
    fake, voice = running.discord, running.voice
    await voice.join(fake.trainer)
    client = await connected(running)
    heard = Heard()
    receiver = client.listen(heard, lambda user_id: True)
    faults = Faults(lose={10, 11}, swap={20}, garbage={5, 30}, bad_transport={15},
                    bad_dave={25} if voice.dave else set())  # fmt: skip
    stranger = seal(b"\xf8\xff\xfe", voice.key, sequence=1, timestamp=0, ssrc=4242, nonce=7)
    voice.send_datagram(stranger)  # a source no SPEAKING named
    voice.send_datagram(b"not rtp at all")
    said = await speech("alice")
    await voice.speak(fake.trainer, await frames_of("alice"), faults=faults, pace=0.004)

    got = await heard.until(fake.trainer.id, said.duration)
    stats = receiver.stats
    assert stats.unknown_ssrc == 1
    assert stats.not_media + stats.undecryptable == 1 + 2 + 1  # the text, garbage, a bad tag
    assert stats.undecryptable >= 1
    assert stats.dave_failures == (1 if voice.dave else 0)
    assert stats.concealed == 2 + 1 + stats.dave_failures  # lost, a bad tag, a bad DAVE frame
    assert stats.late == 0  # the swapped pair was put back in order
    assert similarity(got, said) > 0.7

    # and it keeps listening
    before = len(got.data)
    await voice.speak(fake.trainer, await frames_of("alice"), pace=0.004)
    await heard.until(fake.trainer.id, (before // 2) / 16000 + said.duration)


async def test_packets_held_for_a_lost_one_keep_the_speaker_pending(running: VoiceRunning) -> None:
    """While packets wait in the jitter buffer the speaker is not silent yet (the listening
    session must not fill the gap with silence); once given up on, they are handed on."""
    fake, voice = running.discord, running.voice
    await voice.join(fake.trainer)
    client = await connected(running)
    heard = Heard()
    receiver = client.listen(heard, lambda user_id: True)
    member = fake.trainer.id
    frames = (await frames_of("alice"))[:8]
    await voice.speak(fake.trainer, frames, faults=Faults(lose={4}), pace=0.004, tail=False)

    await wait_until(lambda: receiver.pending(member))  # 5 to 7 wait for the lost 4th
    assert heard.of(member).duration == pytest.approx(4 * 0.02)
    await wait_until(lambda: not receiver.pending(member))  # the speaker went idle: let go
    assert heard.of(member).duration == pytest.approx(8 * 0.02)


def arrive(receiver: Receiver, count: int) -> None:
    """Block the loop, as a busy one would, until the socket thread has put ``count`` packets
    in the inbox: the loop cannot hand them on meanwhile."""
    deadline = time.monotonic() + 5
    while len(receiver._inbox) < count:
        assert time.monotonic() < deadline, f"{len(receiver._inbox)} of {count} packets came"
        time.sleep(0.001)


async def test_only_a_members_own_packets_keep_them_pending(running: VoiceRunning) -> None:
    """Another member talking is not this member's audio on its way: the session must still
    hear this member's silence, or their utterance ends late. A source SPEAKING has not named
    yet may be theirs."""
    fake, voice = running.discord, running.voice
    alice, bob = await voice.join(fake.trainer), await voice.join(fake.member)
    client = await connected(running)
    receiver = client.listen(Heard(), lambda user_id: True)
    await wait_until(lambda: {alice.ssrc, bob.ssrc} <= client.ssrc_members.keys())
    frames = await frames_of("bob")

    for frame in frames[:3]:
        voice.send_datagram(bob.packet(frame, voice.key))
    arrive(receiver, 3)
    assert receiver.pending(fake.member.id) and not receiver.pending(fake.trainer.id)
    voice.send_datagram(alice.packet(frames[0], voice.key))
    arrive(receiver, 4)
    assert receiver.pending(fake.trainer.id)
    await wait_until(lambda: not receiver.pending(fake.trainer.id))  # handed on: silent now

    voice.send_datagram(seal(frames[1], voice.key, sequence=1, timestamp=0, ssrc=4242, nonce=7))
    arrive(receiver, 1)
    assert receiver.pending(fake.trainer.id) and receiver.pending(fake.member.id)


async def test_a_source_speaking_has_not_named_is_held_a_second(running: VoiceRunning) -> None:
    """Packets from a source SPEAKING has not named may be any member's: while SPEAKING may
    still come, nobody is silent yet. Held longer, a packet is stale: it is dropped, not replayed
    as new speech; and a source left unnamed longer does not hold anyone's silence."""
    fake, voice = running.discord, running.voice
    await voice.join(fake.trainer)
    bob = await voice.join(fake.member)
    client = await connected(running)
    now = 100.0
    heard = Heard()
    receiver = client.receiver = Receiver(client, heard, lambda user_id: True, clock=lambda: now)
    receiver.start()
    await wait_until(lambda: bob.ssrc in client.ssrc_members)
    bob.ssrc = 4242  # his client starts a new source, and SPEAKING lags behind it
    frames = await frames_of("bob")

    await voice.speak(fake.member, frames[:5], pace=0.004, tail=False)
    await wait_until(lambda: receiver.stats.unknown_ssrc == 5)
    assert receiver.pending(fake.member.id) and receiver.pending(fake.trainer.id)
    now += 0.6
    await voice.speak(fake.member, frames[5:8], pace=0.004, tail=False)
    await wait_until(lambda: receiver.stats.unknown_ssrc == 8)
    assert receiver.pending(fake.member.id)
    now += 0.6  # unnamed for 1.2 s: not a race with SPEAKING any more
    assert not receiver.pending(fake.member.id) and not receiver.pending(fake.trainer.id)

    await voice.announce(bob)
    await wait_until(lambda: bob.ssrc in client.ssrc_members)
    assert receiver.stats.unclaimed == 5  # 1.2 s old: dropped
    assert heard.of(fake.member.id).duration == pytest.approx(3 * 0.02)  # 0.6 s old: replayed
    assert not receiver._unnamed


async def test_members_join_and_leave_while_listening(running: VoiceRunning) -> None:
    if running.voice.dave:
        pytest.skip("the fake forms its DAVE group once, with the members already there")
    fake, voice = running.discord, running.voice
    client = await connected(running)
    heard = Heard()
    receiver = client.listen(heard, lambda user_id: True)
    bob = await voice.join(fake.member, announce=False)  # after the bot: CLIENTS_CONNECT now
    said, frames = await speech("bob"), await frames_of("bob")
    await voice.speak(fake.member, frames[:20], pace=0.004, tail=False)
    await wait_until(lambda: receiver.stats.unknown_ssrc == 20)
    await voice.announce(bob)  # SPEAKING comes after his first 20 packets: they are not lost
    await voice.speak(fake.member, frames[20:], pace=0.004)
    assert similarity(await heard.until(fake.member.id, said.duration), said) > 0.8
    assert fake.member.id in client.present

    await voice.leave(fake.member)  # CLIENT_DISCONNECT: the source is forgotten
    await wait_until(lambda: bob.ssrc not in client.ssrc_members)
    assert fake.member.id not in client.present and bob.ssrc not in receiver.streams
    routed, unnamed = receiver.stats.packets, receiver.stats.unknown_ssrc
    voice.speakers[fake.member.id] = bob  # late packets from the source that left
    await voice.speak(fake.member, (await frames_of("bob"))[:3], pace=0.004, tail=False)
    # (>=: a silence frame of his last words may still be on its way when he leaves)
    await wait_until(lambda: receiver.stats.unknown_ssrc >= unnamed + 3)
    assert receiver.stats.packets == routed and bob.ssrc not in receiver.streams


async def test_listening_survives_a_new_voice_session(running: VoiceRunning) -> None:
    fake, voice = running.discord, running.voice
    await voice.join(fake.trainer)
    client = await connected(running)
    heard = Heard()
    receiver = client.listen(heard, lambda user_id: True)
    identifies = voice.identifies
    await voice.close_socket(4006)  # the session is gone: discord.py connects from scratch
    # Within discord.py's first try (its timeout is the 15 s given to connect): a socket reader
    # left waiting on the old socket would make it miss the IP discovery reply.
    await asyncio.wait_for(voice.ready.wait(), 15)
    assert voice.identifies > identifies  # a new session, with a new SESSION_DESCRIPTION

    said = await speech("alice")
    voice.speakers[fake.trainer.id].sequence = 40000  # a new sender starts its own sequence
    await voice.speak(fake.trainer, await frames_of("alice"), pace=0.004)
    assert similarity(await heard.until(fake.trainer.id, said.duration), said) > 0.8
    assert client.receiver is receiver and receiver.stats.undecryptable == 0


@pytest.mark.parametrize("dave", [False, True], ids=["dave-v0", "dave-v1"])
async def test_ten_members_at_once(monkeypatch: pytest.MonkeyPatch, dave: bool) -> None:
    async with voice_bot(monkeypatch, dave=dave, more_members=7) as running:
        fake, voice = running.discord, running.voice
        people = [user for user in fake.users.values() if not user.bot]
        recordings = [item for item in corpus_clips() if item.duration < 4][:5]
        said = [await recordings[i % len(recordings)].decode() for i in range(len(people))]
        for user in people:
            await voice.join(user)
        client = await connected(running)
        heard = Heard()
        receiver = client.listen(heard, lambda user_id: True)
        frames = [opus_frames(audio) for audio in said]
        await asyncio.gather(
            *(voice.speak(user, frames[i]) for i, user in enumerate(people))  # in real time
        )

        for user, audio in zip(people, said, strict=True):
            assert similarity(await heard.until(user.id, audio.duration), audio) > 0.8, user.name
        assert len(people) == 10 and len(receiver.streams) == 10
        assert receiver.stats.overflow == receiver.stats.dave_failures == 0
