"""Joining and leaving voice channels; what is said there is the bot's Speaker's business."""

from __future__ import annotations

import discord
from discord.ext import commands

from voxdesk.bridge.bot import VoxBot
from voxdesk.bridge.checks import NotATrainer, is_trainer, trainers
from voxdesk.bridge.joining import join_voice
from voxdesk.bridge.replies import prefix_of
from voxdesk.bridge.speaker import Speaker
from voxdesk.bridge.voice.receiver import ListeningVoiceClient


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
        await ctx.defer()  # /join: Discord takes a first answer within 3 s; joining may take 30
        wanted = ctx.author.voice.channel if ctx.author.voice else None
        if wanted is None:
            await ctx.reply("Join a voice channel first, then ask me again.")
            return
        current = ctx.guild.voice_client
        if current is not None and getattr(current, "channel", None) == wanted:
            await ctx.reply(f"I'm already in {wanted.name}.")
            return
        if current is not None:
            self._may_end_listening(ctx, current)
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
        self._may_end_listening(ctx, voice)
        self.speaker.hush(ctx.guild.id)
        await voice.disconnect(force=True)
        await ctx.reply("Left the voice channel.")

    def _may_end_listening(
        self, ctx: commands.Context[commands.Bot], voice: discord.VoiceProtocol
    ) -> None:
        """Leaving or moving ends captions, which only a trainer starts and stops (!stop)."""
        listening = isinstance(voice, ListeningVoiceClient) and voice.receiver is not None
        role = self.bot.services.settings.discord.trainer_role
        if listening and not (
            isinstance(ctx.author, discord.Member) and is_trainer(ctx.author, role)
        ):
            prefix = prefix_of(ctx)
            raise NotATrainer(
                f"I'm captioning my voice channel: only {trainers(role)} can make me leave it "
                f"or `{prefix}stop`. `{prefix}optout` keeps your voice out."
            )


async def setup(bot: VoxBot) -> None:
    await bot.add_cog(Voice(bot, bot.speaker))
