"""RTP packets as Discord's voice server relays them, and their transport encryption.

Only ``aead_xchacha20_poly1305_rtpsize`` is opened: it is the one mode discord.py selects that
Discord still offers. The header (with the extension preamble) is authenticated, the extension
body is encrypted with the payload, and a 32-bit nonce counter is appended to each packet.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import nacl.bindings as sodium
from nacl.exceptions import CryptoError

MODE = "aead_xchacha20_poly1305_rtpsize"
HEADER = 12
TAG = 16
NONCE = 4
DISCOVERY_LENGTH = 74
SILENCE = b"\xf8\xff\xfe"  # the Opus frame Discord clients send when they stop talking


class UndecryptablePacket(Exception):
    """A packet that claims to be RTP but does not open with the session's key."""


@dataclass(frozen=True)
class RtpPacket:
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes  # an Opus frame, or a DAVE frame around one


def is_media(data: bytes) -> bool:
    """RTP version 2 and neither RTCP (types 200-204) nor an IP discovery reply."""
    if len(data) < HEADER + TAG + NONCE or data[0] >> 6 != 2:
        return False
    if len(data) == DISCOVERY_LENGTH and data[1] == 2:
        return False
    return not 200 <= data[1] <= 204


def open_packet(data: bytes, key: bytes) -> RtpPacket:
    """Decrypt one media packet; raises UndecryptablePacket if it does not authenticate."""
    csrc_count = data[0] & 0x0F
    has_extension = bool(data[0] & 0x10)
    aad_length = HEADER + 4 * csrc_count + (4 if has_extension else 0)
    if len(data) < aad_length + TAG + NONCE:
        raise UndecryptablePacket("packet shorter than its header")
    nonce = data[-NONCE:] + bytes(20)
    try:
        plain = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            data[aad_length:-NONCE], data[:aad_length], nonce, key
        )
    except CryptoError as error:
        raise UndecryptablePacket(str(error)) from error
    if has_extension:
        (words,) = struct.unpack_from(">H", data, aad_length - 2)
        plain = plain[4 * words :]
    if data[0] & 0x20 and plain:  # padding: the last byte counts the bytes to drop
        plain = plain[: -plain[-1]]
    sequence, timestamp, ssrc = struct.unpack_from(">HII", data, 2)
    return RtpPacket(sequence, timestamp, ssrc, plain)
