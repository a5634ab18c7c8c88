"""Turning discord.py objects into core's plain event types."""

from __future__ import annotations

from typing import Any

import discord

from voxdesk.core.events import Place


def place_of(message: discord.Message) -> Place:
    return _place(message.guild, message.channel, message.channel.id)


def interaction_place(interaction: discord.Interaction[Any]) -> Place:
    """Where a slash command or menu was used."""
    # Discord sends a channel with every command; 0 only keeps the type whole.
    return _place(interaction.guild, interaction.channel, interaction.channel_id or 0)


def _place(guild: discord.Guild | None, channel: object, channel_id: int) -> Place:
    name = getattr(channel, "name", None) or "direct message"
    return Place(guild.id if guild else None, guild.name if guild else None, channel_id, name)


def channel_place(channel: discord.abc.GuildChannel) -> Place:
    return Place(channel.guild.id, channel.guild.name, channel.id, channel.name)
