"""Turning discord.py objects into core's plain event types."""

from __future__ import annotations

from typing import Any

import discord

from voxdesk.core.events import Place


def place_of(message: discord.Message) -> Place:
    channel = message.channel
    guild = message.guild
    name = getattr(channel, "name", None) or "direct message"
    return Place(guild.id if guild else None, guild.name if guild else None, channel.id, name)


def interaction_place(interaction: discord.Interaction[Any]) -> Place:
    """Where a slash command or menu was used."""
    guild = interaction.guild
    name = getattr(interaction.channel, "name", None) or "direct message"
    channel_id = interaction.channel_id or 0  # Discord sends one with every command
    return Place(guild.id if guild else None, guild.name if guild else None, channel_id, name)


def channel_place(channel: discord.abc.GuildChannel) -> Place:
    return Place(channel.guild.id, channel.guild.name, channel.id, channel.name)
