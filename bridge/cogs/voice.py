"""Joining and leaving voice channels; what is said there is the bot's Speaker's business."""

from __future__ import annotations

import discord
from discord.ext import commands

from voxdesk.bridge.bot import VoxBot
from voxdesk.bridge.joining import join_voice
from voxdesk.bridge.replies import prefix_of
from voxdesk.bridge.speaker import Speaker


class Voice(commands.Cog):
    def __init__(self, bot: VoxBot, speaker: Speaker) -> None:
        self.bot = bot
        self.speaker = speaker

    async def cog_unload(self) -> None:
        self.speaker.hush_all()

    @commands.hybrid_command(description="Join your voice channel and stay until !leave.")  # type: ignore[arg-type]  # mypy cannot bind the ParamSpec
    @commands.guild_only()
    async def join(self, ctx: commands.Context[commands.Bot]) -> None:
        assert ctx.guild is not None and isinstance(ctx.author, discord.Member)
        wanted = ctx.author.voice.channel if ctx.author.voice else None
        if wanted is None:
            await ctx.reply("Join a voice channel first, then ask me again.")
            return
        current = ctx.guild.voice_client
        if current is not None and getattr(current, "channel", None) == wanted:
            await ctx.reply(f"I'm already in {wanted.name}.")
            return
        if current is not None:
            await current.disconnect(force=True)
        await join_voice(wanted, self.bot.voice_client_class, self_deaf=True)
        await ctx.reply(
            f"Joined {wanted.name}. I'll speak my replies here until `{prefix_of(ctx)}leave`."
        )

    @commands.hybrid_command(description="Leave the voice channel.")  # type: ignore[arg-type]  # mypy cannot bind the ParamSpec
    @commands.guild_only()
    async def leave(self, ctx: commands.Context[commands.Bot]) -> None:
        assert ctx.guild is not None
        voice = ctx.guild.voice_client
        if voice is None:
            await ctx.reply("I'm not in a voice channel.")
            return
        self.speaker.hush(ctx.guild.id)
        await voice.disconnect(force=True)
        await ctx.reply("Left the voice channel.")


async def setup(bot: VoxBot) -> None:
    await bot.add_cog(Voice(bot, bot.speaker))
