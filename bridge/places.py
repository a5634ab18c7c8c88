"""Turning discord.py objects into core's plain event types."""

from __future__ import annotations

import discord

from voxdesk.core.events import Place


def place_of(message: discord.Message) -> Place:
    channel = message.channel
    guild = message.guild
    name = getattr(channel, "name", None) or "direct message"
    return Place(guild.id if guild else None, guild.name if guild else None, channel.id, name)


def channel_place(channel: discord.abc.GuildChannel) -> Place:
    return Place(channel.guild.id, channel.guild.name, channel.id, channel.name)
