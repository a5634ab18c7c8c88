"""The receive side discord.py lacks: its UDP socket's packets to PCM per member.

The socket reader thread only filters and transport-decrypts; everything with state (DAVE, the
jitter buffers, Opus decoders) runs on the event loop, where discord.py also changes the DAVE
session. Packets cross over through one bounded queue, so a stalled loop costs packets, not
memory. Nothing here raises on bad input: each kind of bad packet is counted and dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import davey
import discord
from discord.opus import Decoder, OpusError
from discord.voice_state import SocketReader, VoiceConnectionState

from voxdesk.bridge.voice.jitter import JitterBuffer
from voxdesk.bridge.voice.resample import Downsampler
from voxdesk.bridge.voice.transport import (
    MODE,
    RtpPacket,
    UndecryptablePacket,
    is_media,
    open_packet,
)
from voxdesk.core.audio.pcm import Pcm
from voxdesk.core.errors import VoxdeskError

log = logging.getLogger(__name__)

PcmSink = Callable[[int, Pcm], None]
"""Called on the loop with a member's id and their next 16 kHz mono PCM."""

INBOX_PACKETS = 2000  # 4 s of ten speakers
# SPEAKING trails a source's first packets by about a round trip: a packet held longer for it is
# stale (replayed, it would pass for new speech), and a source left unnamed longer is not that race.
HOLD_SECONDS = 1.0
UNNAMED_PACKETS = 50  # 1 s of audio: bounds what a source sending too fast can hold
UNNAMED_SOURCES = 32
IDLE_FLUSH_SECONDS = 0.1  # a speaker silent this long has sent everything the buffer waits for


class OpusMissing(VoxdeskError):
    """libopus, which decodes Discord's voice, is not installed."""


@dataclass
class ReceiveStats:
    """What happened to every datagram; read by tests, logs and the window."""

    packets: int = 0  # media packets that opened
    not_media: int = 0  # RTCP, discovery replies, datagrams that are not RTP at all
    undecryptable: int = 0  # transport encryption did not authenticate
    unknown_ssrc: int = 0  # came before SPEAKING named its source (held HOLD_SECONDS for it)
    unclaimed: int = 0  # of those, dropped: SPEAKING named their source too late, or never
    ignored: int = 0  # from members who opted out: never decrypted or decoded
    dave_failures: int = 0  # end-to-end encryption did not open
    undecodable: int = 0  # not a valid Opus frame
    overflow: int = 0  # the loop fell behind and the oldest packets went
    concealed: int = 0  # lost or unreadable packets filled in by the decoder
    late: int = 0  # arrived after the buffer had given up on them
    frames: int = 0  # 20 ms frames handed on


class SpeakerStream:
    """One source's packets: in order, decrypted, decoded, downsampled."""

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id
        self.jitter = JitterBuffer()
        self.decoder = Decoder()  # type: ignore[no-untyped-call]  # discord.py leaves it untyped
        self.downsampler = Downsampler()
        self.idle: asyncio.TimerHandle | None = None


class HeldSource:
    """Packets of a source SPEAKING has not named yet, each with when it came."""

    def __init__(self, since: float) -> None:
        self.since = since  # its first packet since it last fell quiet for HOLD_SECONDS
        self.packets: deque[tuple[float, RtpPacket]] = deque(maxlen=UNNAMED_PACKETS)


class Receiver:
    """Listens on one voice client's socket and hands each wanted member's PCM to ``sink``."""

    def __init__(
        self,
        voice: ListeningVoiceClient,
        sink: PcmSink,
        wanted: Callable[[int], bool],
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        check_opus()
        self.voice = voice
        self.sink = sink
        self.wanted = wanted
        self.stats = ReceiveStats()
        self.streams: dict[int, SpeakerStream] = {}
        self._loop = asyncio.get_running_loop()
        self._clock = clock or self._loop.time  # the clock of the loop's timers
        self._inbox: deque[RtpPacket] = deque(maxlen=INBOX_PACKETS)
        # The voice server's SPEAKING and a source's first packets race: hold those packets.
        self._unnamed: dict[int, HeldSource] = {}
        self._drain_scheduled = False

    def start(self) -> None:
        """Listen on the socket; again after a reconnect, when sequences and decoders start over."""
        self.stop()
        self.voice._connection.add_socket_listener(self._on_datagram)

    def stop(self) -> None:
        self.voice._connection.remove_socket_listener(self._on_datagram)
        for stream in self.streams.values():
            if stream.idle:
                stream.idle.cancel()
        self.streams.clear()

    def forget(self, user_id: int) -> None:
        """Drop a member's decoder state (they left, or opted out)."""
        for ssrc, stream in list(self.streams.items()):
            if stream.user_id == user_id:
                if stream.idle:
                    stream.idle.cancel()
                del self.streams[ssrc]

    def pending(self, user_id: int) -> bool:
        """Packets that may be ``user_id``'s are on their way to the sink (waiting for the loop,
        or held for order): a gap in their audio is not silence yet. Another member's packets
        are not: their talking must not hold back the end of this member's utterance. Nor is a
        source SPEAKING has left unnamed longer than the race with it: it may talk for minutes."""
        members = self.voice.ssrc_members  # changed on the loop only, like this call
        # deque.copy() copies in one C call that never lets go of the GIL (and locks the deque
        # where there is no GIL), so the socket thread's appends land before or after the copy;
        # iterating the deque itself would raise when an append came in between two steps.
        if any(members.get(packet.ssrc, user_id) == user_id for packet in self._inbox.copy()):
            return True  # theirs, or from a source not named yet, which may be theirs
        now = self._clock()
        if any(now - held.since < HOLD_SECONDS for held in self._unnamed.values()):
            return True  # held for a SPEAKING that may come any moment and name them
        return any(s.user_id == user_id and s.jitter.holding for s in self.streams.values())

    # --- the socket reader thread ---------------------------------------------------------------

    def _on_datagram(self, data: bytes) -> None:
        if not is_media(data):
            self.stats.not_media += 1
            return
        connection = self.voice._connection
        if connection.mode != MODE or not connection.secret_key:
            self.stats.undecryptable += 1
            return
        try:
            packet = open_packet(data, bytes(connection.secret_key))
        except UndecryptablePacket:
            self.stats.undecryptable += 1
            return
        if len(self._inbox) == self._inbox.maxlen:
            self.stats.overflow += 1
        self._inbox.append(packet)
        if not self._drain_scheduled:
            self._drain_scheduled = True
            self._loop.call_soon_threadsafe(self._drain)

    # --- the event loop -------------------------------------------------------------------------

    def _drain(self) -> None:
        self._drain_scheduled = False
        while self._inbox:
            self._route(self._inbox.popleft())

    def _route(self, packet: RtpPacket) -> None:
        user_id = self.voice.ssrc_members.get(packet.ssrc)
        if user_id is None:
            self.stats.unknown_ssrc += 1
            self._hold(packet)
            return
        if not self.wanted(user_id):
            self.stats.ignored += 1
            return
        self.stats.packets += 1
        stream = self.streams.get(packet.ssrc)
        if stream is None or stream.user_id != user_id:
            stream = self.streams[packet.ssrc] = SpeakerStream(user_id)
        late = stream.jitter.late
        self._play(stream, stream.jitter.push(packet.sequence, packet.payload))
        self.stats.late += stream.jitter.late - late
        if stream.idle:
            stream.idle.cancel()
        stream.idle = self._loop.call_later(IDLE_FLUSH_SECONDS, self._flush, stream)

    def _hold(self, packet: RtpPacket) -> None:
        now = self._clock()
        self._expire(now)
        held = self._unnamed.get(packet.ssrc)
        if held is None:
            if len(self._unnamed) >= UNNAMED_SOURCES:
                self.stats.unclaimed += len(self._unnamed.pop(next(iter(self._unnamed))).packets)
            held = self._unnamed[packet.ssrc] = HeldSource(now)
        if len(held.packets) == held.packets.maxlen:
            self.stats.unclaimed += 1
        held.packets.append((now, packet))

    def _expire(self, now: float) -> None:
        """Drop the held packets SPEAKING did not name a source for in time."""
        for ssrc, held in list(self._unnamed.items()):
            while held.packets and now - held.packets[0][0] >= HOLD_SECONDS:
                held.packets.popleft()
                self.stats.unclaimed += 1
            if not held.packets:
                del self._unnamed[ssrc]

    def named(self, ssrc: int) -> None:
        """SPEAKING named the member behind ``ssrc``: what came from it lately goes on now."""
        self._expire(self._clock())
        held = self._unnamed.pop(ssrc, None)
        for _, packet in held.packets if held else ():
            self._route(packet)

    def _flush(self, stream: SpeakerStream) -> None:
        stream.idle = None
        self._play(stream, stream.jitter.flush())

    def _play(self, stream: SpeakerStream, payloads: list[bytes | None]) -> None:
        for payload in payloads:
            stereo = self._decode(stream, payload)
            self.stats.frames += 1
            self.sink(stream.user_id, Pcm(stream.downsampler.feed(stereo)))

    def _decode(self, stream: SpeakerStream, payload: bytes | None) -> bytes:
        """A frame of 48 kHz stereo; a lost or unreadable packet is concealed, keeping time."""
        opus = None if payload is None else self._open_dave(stream.user_id, payload)
        if opus is not None:
            try:
                return stream.decoder.decode(opus, fec=False)
            except OpusError:
                self.stats.undecodable += 1
        self.stats.concealed += 1
        return stream.decoder.decode(None, fec=False)

    def _open_dave(self, user_id: int, payload: bytes) -> bytes | None:
        connection = self.voice._connection
        session = connection.dave_session
        if connection.dave_protocol_version == 0 or session is None:
            return payload  # no end-to-end encryption negotiated: the payload is Opus
        try:
            return bytes(session.decrypt(user_id, davey.MediaType.audio, payload))
        except ValueError:
            # Frames can come before the member's keys do (a join, an epoch change).
            self.stats.dave_failures += 1
            return None


class ListeningConnection(VoiceConnectionState):
    """discord.py's connection state, with a fresh socket reader for each new UDP socket.

    While a listener is registered, discord.py's reader thread waits in ``select`` on the UDP
    socket (30 s at a time). To reconnect, discord.py closes that socket and opens another, which
    does not wake the reader: it would miss the new socket's IP discovery reply and the
    reconnect would time out, again and again. The old reader is told to stop (it ends when its
    wait does) and a new one, paused until discord.py registers its discovery listener, reads
    the new socket. The receiver joins it when the new session's key arrives.
    """

    def _create_socket(self) -> None:
        self._socket_reader.stop()
        self._socket_reader = SocketReader(self)
        self._socket_reader.start()
        super()._create_socket()


class ListeningVoiceClient(discord.VoiceClient):
    """discord.py's voice client, plus what the voice server says about who sends what.

    The voice websocket's SPEAKING (5), CLIENTS_CONNECT (11) and CLIENT_DISCONNECT (13) are
    ignored by discord.py; its connection-state hook sees them after discord.py is done.
    """

    def __init__(self, client: discord.Client, channel: discord.abc.Connectable) -> None:
        self.ssrc_members: dict[int, int] = {}
        self.present: set[int] = set()
        self.receiver: Receiver | None = None
        super().__init__(client, channel)

    def create_connection_state(self) -> VoiceConnectionState:
        return ListeningConnection(self, hook=self._on_voice_message)

    def listen(self, sink: PcmSink, wanted: Callable[[int], bool]) -> Receiver:
        """Start handing each wanted member's speech to ``sink``."""
        self.stop_listening()
        self.receiver = Receiver(self, sink, wanted)
        self.receiver.start()
        return self.receiver

    def stop_listening(self) -> None:
        if self.receiver is not None:
            self.receiver.stop()
            self.receiver = None

    def cleanup(self) -> None:
        self.stop_listening()
        super().cleanup()

    async def _on_voice_message(self, _ws: Any, message: dict[str, Any]) -> None:
        op, data = message.get("op"), message.get("d") or {}
        if op == 4 and self.receiver is not None:
            self.receiver.start()
        elif op == 5 and "ssrc" in data and "user_id" in data:
            self.ssrc_members[int(data["ssrc"])] = int(data["user_id"])
            self.present.add(int(data["user_id"]))
            if self.receiver is not None:
                self.receiver.named(int(data["ssrc"]))
        elif op == 11:
            self.present.update(int(user) for user in data.get("user_ids", ()))
        elif op == 13 and "user_id" in data:
            self._gone(int(data["user_id"]))

    def _gone(self, user_id: int) -> None:
        self.present.discard(user_id)
        for ssrc in [s for s, user in self.ssrc_members.items() if user == user_id]:
            del self.ssrc_members[ssrc]
        if self.receiver is not None:
            self.receiver.forget(user_id)


def check_opus() -> None:
    """Raise a clear error when libopus cannot be loaded (it is a system library)."""
    if discord.opus.is_loaded():
        return
    try:
        Decoder()  # type: ignore[no-untyped-call]
    except discord.opus.OpusNotLoaded as error:
        raise OpusMissing(
            "Listening needs libopus, which is not installed.",
            hint="Install it (Debian/Ubuntu: apt install libopus0) and start the bot again.",
        ) from error
