"""Joining voice channels and speaking replies there, one at a time."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging

import discord
from discord.ext import commands

from voxdesk.core.audio.ffmpeg import ffmpeg_executable
from voxdesk.core.errors import VoxdeskError
from voxdesk.core.tts import create_synthesizer, speakable

log = logging.getLogger(__name__)


class Voice(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self.services = bot.services  # type: ignore[attr-defined]
        self.queues: dict[int, asyncio.Queue[str]] = {}
        self.speakers: dict[int, asyncio.Task[None]] = {}

    async def cog_unload(self) -> None:
        for task in self.speakers.values():
            task.cancel()

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
        await wanted.connect(cls=self.bot.voice_client_class, self_deaf=True)  # type: ignore[attr-defined]
        await ctx.reply(f"Joined {wanted.name}. I'll speak my replies here until `!leave`.")

    @commands.hybrid_command(description="Leave the voice channel.")  # type: ignore[arg-type]  # mypy cannot bind the ParamSpec
    @commands.guild_only()
    async def leave(self, ctx: commands.Context[commands.Bot]) -> None:
        assert ctx.guild is not None
        voice = ctx.guild.voice_client
        if voice is None:
            await ctx.reply("I'm not in a voice channel.")
            return
        if task := self.speakers.pop(ctx.guild.id, None):
            task.cancel()
        self.queues.pop(ctx.guild.id, None)
        await voice.disconnect(force=True)
        await ctx.reply("Left the voice channel.")

    def listening(self, member: discord.Member) -> bool:
        """Whether ``member`` is in the voice channel the bot has joined in their guild."""
        voice = member.guild.voice_client
        channel = getattr(voice, "channel", None)
        return voice is not None and member.voice is not None and member.voice.channel == channel

    async def speak_to(self, member: discord.Member, text: str) -> bool:
        """Queue ``text`` to be spoken if ``member`` is listening; True when queued."""
        if not self.listening(member):
            return False
        await self.say(member.guild, text)
        return True

    async def say(self, guild: discord.Guild, text: str) -> None:
        """Speak ``text`` in the guild's voice channel after whatever is being said now."""
        if guild.voice_client is None:
            raise VoxdeskError("I'm not in a voice channel here.", hint="Use !join first.")
        queue = self.queues.setdefault(guild.id, asyncio.Queue())
        await queue.put(text)
        if guild.id not in self.speakers or self.speakers[guild.id].done():
            self.speakers[guild.id] = asyncio.create_task(self._speak_queue(guild, queue))

    async def _speak_queue(self, guild: discord.Guild, queue: asyncio.Queue[str]) -> None:
        while not queue.empty():
            text = queue.get_nowait()
            try:
                await self._play(guild, text)
            except VoxdeskError as error:
                log.warning("Could not speak in %s: %s", guild.id, error.describe())

    async def _play(self, guild: discord.Guild, text: str) -> None:
        said = speakable(text)
        if not said:
            return  # only code, links or mentions: nothing to read aloud
        settings = self.services.settings.tts
        synthesizer = create_synthesizer(settings.engine)
        speech = await synthesizer.synthesize(said, language=settings.language, output="ogg")
        voice = guild.voice_client
        if voice is None:
            return  # left while the speech was being made
        source = discord.FFmpegPCMAudio(
            io.BytesIO(speech.data), pipe=True, executable=ffmpeg_executable()
        )
        finished = asyncio.Event()
        loop = asyncio.get_running_loop()
        voice.play(source, after=lambda error: loop.call_soon_threadsafe(finished.set))  # type: ignore[attr-defined]
        try:
            await finished.wait()
        finally:
            with contextlib.suppress(Exception):
                source.cleanup()


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Voice(bot))
