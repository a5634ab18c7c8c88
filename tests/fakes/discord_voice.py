"""A loopback Discord voice server for the real discord.py voice client.

Voice gateway v8 over TLS (discord.py always dials ``wss://``; the certificate is made at start
and trusted through the client's connector), UDP IP discovery, and RTP sealed with
``aead_xchacha20_poly1305_rtpsize`` carrying Opus made from real recordings. Members of the fake
guild speak with their own SSRCs; tests inject loss, reordering, garbage and undecryptable
packets. With ``dave=True`` the server plays DAVE's MLS external sender: the speakers and the
bot join one group (real ``davey`` sessions on both sides) and every frame is end-to-end
encrypted; with ``dave=False`` it negotiates protocol version 0, as for a client without DAVE.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import os
import ssl
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import davey
import nacl.bindings as sodium
import numpy as np
from aiohttp import WSMsgType, web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from discord.opus import Encoder

from tests.fakes.discord_server import FakeDiscord, FakeUser
from voxdesk.bridge.voice.transport import MODE, SILENCE
from voxdesk.core.audio.pcm import Pcm

HEARTBEAT_MS = 1000  # discord.py beats at min(interval, 5 s)
FRAME_SECONDS = 0.02
TRANSITION = 1  # the id of the one DAVE transition the fake runs


def opus_frames(audio: Pcm) -> list[bytes]:
    """16 kHz mono speech as the 20 ms Opus frames a Discord client sends (48 kHz stereo)."""
    samples = audio.samples().astype(np.float32)
    wide = np.interp(np.arange(len(samples) * 3) / 3, np.arange(len(samples)), samples)
    wide = np.concatenate([wide, np.zeros(-len(wide) % 960, dtype=np.float32)])
    stereo = np.repeat(np.rint(wide).astype("<i2"), 2).tobytes()
    encoder = Encoder()
    return [encoder.encode(stereo[i : i + 3840], 960) for i in range(0, len(stereo), 3840)]


def seal(
    payload: bytes, key: bytes, *, sequence: int, timestamp: int, ssrc: int, nonce: int
) -> bytes:
    """A packet as Discord relays it: header extension 0xBEDE (its body encrypted), nonce appended."""
    extension = b"\x10\x7f\x00\x00"  # one element (id 1, one byte), padded to a word
    header = struct.pack(">BBHII", 0x90, 0x78, sequence & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc)
    header += struct.pack(">HH", 0xBEDE, 1)
    counter = struct.pack(">I", nonce)
    sealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        extension + payload, header, counter + bytes(20), key
    )
    return header + sealed + counter


@dataclass
class Faults:
    """What goes wrong on the way, by frame index within one ``speak``."""

    lose: set[int] = field(default_factory=set)
    swap: set[int] = field(default_factory=set)  # frame i is sent after frame i + 1
    garbage: set[int] = field(default_factory=set)  # a random datagram is sent before frame i
    bad_transport: set[int] = field(default_factory=set)  # frame i's tag does not authenticate
    bad_dave: set[int] = field(default_factory=set)  # frame i's DAVE ciphertext is damaged


@dataclass
class Speaker:
    user: FakeUser
    ssrc: int
    sequence: int = 0
    nonce: int = 0
    dave: davey.DaveSession | None = None

    def packet(self, frame: bytes, key: bytes, *, damage: bool = False) -> bytes:
        payload = self.dave.encrypt_opus(frame) if self.dave is not None else frame
        if damage:  # the ciphertext no longer authenticates; the DAVE trailer stays intact
            payload = bytes([payload[0] ^ 0xFF]) + payload[1:]
        packet = seal(payload, key, sequence=self.sequence, timestamp=self.sequence * 960,
                      ssrc=self.ssrc, nonce=self.nonce)  # fmt: skip
        self.sequence += 1
        self.nonce += 1
        return packet


class ExternalSender:
    """The MLS external sender a DAVE voice server is (RFC 9420 ExternalSender, external Adds).

    davey can join groups but not run one, so the server's part is written out here: an
    ExternalSender struct with a P-256 key, and Add proposals signed with it.
    """

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.package = _vec(public) + struct.pack(">H", 1) + _vec(b"\x00")  # basic credential

    def proposals(self, channel_id: int, key_packages: list[bytes]) -> bytes:
        """op 27's payload after the operation byte: a vector of PublicMessage(Add) at epoch 0."""
        return _vec(b"".join(self._add(channel_id, package) for package in key_packages))

    def _add(self, channel_id: int, key_package: bytes) -> bytes:
        version_and_wire = struct.pack(">HH", 1, 1)  # mls10, public_message
        content = (_vec(struct.pack(">Q", channel_id)) + struct.pack(">Q", 0)
                   + bytes([2]) + struct.pack(">I", 0)  # sender: external, index 0
                   + _vec(b"") + bytes([2]) + struct.pack(">H", 1) + key_package)  # fmt: skip
        to_sign = _vec(b"MLS 1.0 FramedContentTBS") + _vec(version_and_wire + content)
        signature = self.key.sign(to_sign, ec.ECDSA(hashes.SHA256()))
        return version_and_wire + content + _vec(signature)


def _vec(data: bytes) -> bytes:
    """An MLS variable-length vector (RFC 9420 §2.1.2)."""
    length = len(data)
    prefix = bytes([length]) if length < 1 << 6 else struct.pack(">H", 0x4000 | length)
    return prefix + data


class FakeVoiceServer:
    """One guild's voice server. ``attach`` it to the fake Discord before the bot joins."""

    def __init__(self, discord: FakeDiscord, *, dave: bool = False) -> None:
        self.discord = discord
        self.dave = dave
        self.key = os.urandom(32)
        self.bot_ssrc = 1000
        self.speakers: dict[int, Speaker] = {}
        self.external = ExternalSender()
        self.ready = asyncio.Event()  # the bot can hear (after DAVE's welcome when DAVE is on)
        self.socket: web.WebSocketResponse | None = None
        self.bot_address: tuple[str, int] | None = None
        self.bot_packets: list[bytes] = []
        self.received: list[dict[str, Any]] = []  # every JSON message from the bot
        self.identifies = 0
        self.resumes = 0
        self.withheld = 0  # packets not sent because the bot had deafened itself
        self._seq = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._runner: web.AppRunner | None = None
        self._folder = tempfile.TemporaryDirectory()
        self.certificate = Path(self._folder.name) / "voice.pem"
        self.endpoint = ""

    # --- life cycle -----------------------------------------------------------------------------

    async def start(self) -> FakeVoiceServer:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Udp(self), local_addr=("127.0.0.1", 0)
        )
        self._udp = transport
        app = web.Application()
        app.router.add_get("/", self._websocket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._server_tls()).start()
        self.endpoint = f"127.0.0.1:{self._runner.addresses[0][1]}"
        self.discord.voice_endpoint = self.endpoint
        return self

    async def stop(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        if self._runner:
            await self._runner.cleanup()
        if self._udp:
            self._udp.close()
        self._folder.cleanup()

    def client_tls(self) -> ssl.SSLContext:
        """What the bot's connector trusts: this server's certificate only."""
        return ssl.create_default_context(cafile=str(self.certificate))

    def _server_tls(self) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )  # fmt: skip
        self.certificate.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_file = Path(self._folder.name) / "voice.key"
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))  # fmt: skip
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certificate, key_file)
        return context

    # --- what members do --------------------------------------------------------------------------

    async def join(self, user: FakeUser, *, announce: bool = True) -> Speaker:
        """``user`` enters the voice channel (before the bot joins, when DAVE is on); with
        ``announce`` False, SPEAKING waits for ``announce`` (it can lag behind the audio)."""
        speaker = self.speakers[user.id] = Speaker(user, ssrc=2000 + len(self.speakers))
        await self.discord.join_voice(user, self.discord.voice)
        if self.socket is not None:
            await self._send(11, {"user_ids": [str(user.id)]})
            if announce:
                await self.announce(speaker)
        return speaker

    async def announce(self, speaker: Speaker) -> None:
        """SPEAKING: tells the bot which member sends from ``speaker.ssrc``."""
        await self._send(5, {"user_id": str(speaker.user.id), "ssrc": speaker.ssrc, "speaking": 1})

    async def leave(self, user: FakeUser) -> None:
        self.speakers.pop(user.id, None)
        await self.discord.join_voice(user, None)
        if self.socket is not None:
            await self._send(13, {"user_id": str(user.id)})

    async def speak(self, user: FakeUser, frames: list[bytes], *, faults: Faults | None = None,
                    pace: float = FRAME_SECONDS, burst: int = 1, tail: bool = True) -> None:  # fmt: skip
        """Send ``frames`` from ``user``, ``burst`` of them every ``pace`` seconds, then the five
        silence frames a client sends when it stops talking. (A burst above one feeds a test
        faster than real time; the event loop cannot sleep less than a millisecond.)"""
        faults = faults or Faults()
        speaker = self.speakers[user.id]
        packets = []
        for index, frame in enumerate(frames + [SILENCE] * (5 if tail else 0)):
            packet = speaker.packet(frame, self.key, damage=index in faults.bad_dave)
            if index in faults.bad_transport:
                packet = packet[:-5] + bytes([packet[-5] ^ 0xFF]) + packet[-4:]
            if index in faults.garbage:
                packets.append(os.urandom(60 + index % 40))
            if index not in faults.lose:
                packets.append(packet)
            if index - 1 in faults.swap and len(packets) >= 2:
                packets[-1], packets[-2] = packets[-2], packets[-1]
        for index, packet in enumerate(packets, start=1):
            self.send_datagram(packet)
            if index % burst == 0:
                await asyncio.sleep(pace)

    def send_datagram(self, data: bytes) -> None:
        assert self._udp is not None and self.bot_address is not None, "the bot has not connected"
        if self.discord.bot_deafened:
            self.withheld += 1  # Discord sends no audio to a deafened client
            return
        self._udp.sendto(data, self.bot_address)

    async def close_socket(self, code: int) -> None:
        """End the bot's voice websocket as Discord does (4015: resume; 4006: start over)."""
        assert self.socket is not None
        self.ready.clear()
        await self.socket.close(code=code, message=b"closed by the test")

    # --- the voice websocket ----------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        assert request.query.get("v") == "8", request.query
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.socket = socket
        await socket.send_str(json.dumps({"op": 8, "d": {"heartbeat_interval": HEARTBEAT_MS}}))
        async for message in socket:
            if message.type == WSMsgType.BINARY:
                if message.data[0] == 26:  # the bot's MLS key package
                    await self._form_group(message.data[1:])
            elif message.type == WSMsgType.TEXT:
                payload = json.loads(message.data)
                self.received.append(payload)
                await self._handle(payload["op"], payload.get("d"))
        return socket

    async def _handle(self, op: int, data: Any) -> None:
        if op == 0:  # IDENTIFY
            self.identifies += 1
            await self._send(2, {"ssrc": self.bot_ssrc, "ip": "127.0.0.1", "port": self._udp_port,
                                 "modes": ["aead_aes256_gcm_rtpsize", MODE], "heartbeat_interval": 1})  # fmt: skip
        elif op == 1:  # SELECT_PROTOCOL
            await self._send(4, {"mode": data["data"]["mode"], "secret_key": list(self.key),
                                 "dave_protocol_version": 1 if self.dave else 0})  # fmt: skip
            await self._announce_everyone()
        elif op == 3:  # HEARTBEAT
            await self._send(6, {"t": data["t"]})
        elif op == 7:  # RESUME
            self.resumes += 1
            await self._send(9, None)
            await self._announce_everyone()
        elif op == 23:  # DAVE_TRANSITION_READY
            await self._send(22, {"transition_id": data["transition_id"]})
            self.ready.set()

    async def _announce_everyone(self) -> None:
        if self.speakers:
            await self._send(11, {"user_ids": [str(user_id) for user_id in self.speakers]})
        for speaker in self.speakers.values():
            await self.announce(speaker)
        if not self.dave:
            self.ready.set()

    async def _form_group(self, bot_package: bytes) -> None:
        """Put the speakers and the bot in one MLS group: the first speaker commits the Adds."""
        await self._send_binary(25, self.external.package)
        channel = self.discord.voice
        sessions = {
            s.user.id: davey.DaveSession(1, s.user.id, channel) for s in self.speakers.values()
        }
        if not sessions:
            return
        for session in sessions.values():
            session.set_external_sender(self.external.package)
        committer, *others = sessions.values()
        packages = [bot_package] + [session.get_serialized_key_package() for session in others]
        result = committer.process_proposals(davey.ProposalsOperationType.append,
                                             self.external.proposals(channel, packages))  # fmt: skip
        assert result is not None and result.welcome is not None
        committer.process_commit(result.commit)
        for session in others:
            session.process_welcome(result.welcome)
        for user_id, session in sessions.items():
            self.speakers[user_id].dave = session
        await self._send_binary(30, struct.pack(">H", TRANSITION) + result.welcome)

    async def _send(self, op: int, data: Any) -> None:
        assert self.socket is not None
        self._seq += 1
        await self.socket.send_str(json.dumps({"op": op, "d": data, "seq": self._seq}))

    async def _send_binary(self, op: int, payload: bytes) -> None:
        assert self.socket is not None
        self._seq += 1
        await self.socket.send_bytes(struct.pack(">HB", self._seq, op) + payload)

    @property
    def _udp_port(self) -> int:
        assert self._udp is not None
        port: int = self._udp.get_extra_info("sockname")[1]
        return port

    def heartbeats(self) -> list[dict[str, Any]]:
        return [m["d"] for m in self.received if m["op"] == 3]


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: FakeVoiceServer) -> None:
        self.server = server

    def datagram_received(self, data: bytes, address: tuple[str, int]) -> None:
        server = self.server
        if len(data) == 74 and data[:2] == b"\x00\x01":  # IP discovery: tell the bot its address
            server.bot_address = address
            reply = bytearray(74)
            struct.pack_into(">HHI", reply, 0, 2, 70, struct.unpack_from(">I", data, 4)[0])
            reply[8 : 8 + len(address[0])] = address[0].encode()
            struct.pack_into(">H", reply, 72, address[1])
            assert server._udp is not None
            server._udp.sendto(bytes(reply), address)
        else:
            server.bot_packets.append(data)
