"""Getting into a voice channel, with a reason a member can act on when Discord keeps the bot
out."""

from __future__ import annotations

from typing import TypeVar

import discord

from voxdesk.core.errors import VoxdeskError

V = TypeVar("V", bound=discord.VoiceProtocol)
JOIN_SECONDS = 30.0  # discord.py's own wait


async def join_voice(
    channel: discord.VoiceChannel | discord.StageChannel, cls: type[V], *, self_deaf: bool
) -> V:
    """Connect to ``channel``. Without the Connect permission Discord does not refuse, it never
    answers: discord.py gives up with a bare TimeoutError."""
    try:
        return await channel.connect(cls=cls, self_deaf=self_deaf, timeout=JOIN_SECONDS)
    except TimeoutError:
        raise VoxdeskError(
            f"Discord did not let me into {channel.name}.",
            hint="Check that I may View Channel, Connect and Speak there, then ask again.",
        ) from None
