"""Recognising what a file really is from its first bytes, whatever its name says."""

from __future__ import annotations

import struct
from dataclasses import dataclass

_OGG_HEADER = struct.Struct("<4sBBqIIIB")  # capture, version, flags, granule, serial, seq, crc, n
_WAV_STREAMING_SIZE = 0x7FFF0000


@dataclass(frozen=True)
class Sniffed:
    """What the leading bytes say: a kind name and whether that kind is audio."""

    kind: str
    is_audio: bool


_NOT_AUDIO: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x7fELF", "a program"),
    (b"MZ", "a Windows program"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
)

_AUDIO: tuple[tuple[bytes, str], ...] = (
    (b"OggS", "Ogg"),
    (b"fLaC", "FLAC"),
    (b"ID3", "MP3"),
    (b"#!AMR", "AMR"),
    (b"\x1a\x45\xdf\xa3", "WebM/Matroska"),
    (b"caff", "Core Audio"),
)


def sniff(head: bytes) -> Sniffed | None:
    """Identify ``head`` (the first few dozen bytes); None when nothing is recognised."""
    for magic, kind in _NOT_AUDIO:
        if head.startswith(magic):
            return Sniffed(kind, is_audio=False)
    if head.startswith(b"RIFF") and head[8:12] in (b"WAVE", b"RF64"):
        return Sniffed("WAV", is_audio=True)
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return Sniffed("a WebP image", is_audio=False)
    if head.startswith(b"FORM") and head[8:12] in (b"AIFF", b"AIFC"):
        return Sniffed("AIFF", is_audio=True)
    if head[4:8] == b"ftyp":
        return Sniffed("MP4/M4A", is_audio=True)
    for magic, kind in _AUDIO:
        if head.startswith(magic):
            return Sniffed(kind, is_audio=True)
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return Sniffed("MPEG audio", is_audio=True)
    if _looks_like_text(head):
        return Sniffed("a text file", is_audio=False)
    return None


def ogg_is_truncated(data: bytes) -> bool:
    """True when the last Ogg page is cut short: ffmpeg silently drops such a page.

    Pages are walked by their headers only; a stream cut exactly at a page boundary cannot be
    told from a shorter recording and is accepted.
    """
    offset = 0
    while offset < len(data):
        if len(data) - offset < _OGG_HEADER.size:
            return True
        capture, _, _, _, _, _, _, segments = _OGG_HEADER.unpack_from(data, offset)
        if capture != b"OggS":
            return True
        table_start = offset + _OGG_HEADER.size
        table = data[table_start : table_start + segments]
        if len(table) < segments:
            return True
        offset = table_start + segments + sum(table)
    return offset > len(data)


def wav_length_unknown(data: bytes) -> bool:
    """True for a WAV written to a pipe: its header holds a placeholder, not the real length.

    Writers that cannot seek back (espeak-ng --stdout, ffmpeg and sox to a pipe) put 0,
    0xFFFFFFFF or a value near 2 GiB there; ffmpeg then calls the last packet corrupt.
    """
    if not (data.startswith(b"RIFF") and data[8:12] == b"WAVE"):
        return False
    (declared,) = struct.unpack_from("<I", data, 4)
    return bool(declared == 0 or declared >= _WAV_STREAMING_SIZE)


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return printable / len(text) > 0.95
