"""Reading attachments safely: size capped before the download completes, names never paths."""

from __future__ import annotations

from pathlib import PurePath

import aiohttp
import discord

from voxdesk.core.audio.errors import AudioTooLarge
from voxdesk.core.errors import VoxdeskError

AUDIO_SUFFIXES = frozenset(
    {".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".wav", ".flac", ".webm", ".aiff", ".amr"}
)
_CHUNK = 64 * 1024


def is_audio(attachment: discord.Attachment) -> bool:
    """Voice messages and audio files, by Discord's flag, the content type or the extension."""
    if attachment.is_voice_message():
        return True
    kind = (attachment.content_type or "").split(";")[0]
    return (
        kind.startswith("audio/") or PurePath(attachment.filename).suffix.lower() in AUDIO_SUFFIXES
    )


async def read_capped(
    session: aiohttp.ClientSession, attachment: discord.Attachment, max_bytes: int
) -> bytes:
    """The attachment's bytes; refused before (declared size) or during (actual size) download."""
    if attachment.size > max_bytes:
        raise _too_large(attachment.size, max_bytes)
    data = bytearray()
    try:
        async with session.get(attachment.url, timeout=aiohttp.ClientTimeout(total=60)) as response:
            response.raise_for_status()
            async for chunk in response.content.iter_chunked(_CHUNK):
                data += chunk
                if len(data) > max_bytes:
                    raise _too_large(len(data), max_bytes)
    except (TimeoutError, aiohttp.ClientError) as error:
        raise VoxdeskError("The file could not be downloaded from Discord; try again.") from error
    return bytes(data)


def _too_large(size: int, limit: int) -> AudioTooLarge:
    return AudioTooLarge(
        f"The file is {size / 1048576:.1f} MiB; the limit is {limit / 1048576:.1f} MiB."
    )
