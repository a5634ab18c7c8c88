"""Speaking in the voice channels the bot has joined: one thing at a time in each guild."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from pathlib import Path

import discord

from voxdesk.core.audio.ffmpeg import ffmpeg_executable
from voxdesk.core.config import TtsSettings
from voxdesk.core.errors import VoxdeskError
from voxdesk.core.tts import Synthesizer, speakable

log = logging.getLogger(__name__)


class Speaker:
    """Queues what to say in each guild and plays it through the guild's voice client.

    The bot holds one, so that the chat (spoken replies), the voice cog (!leave) and the window
    share the queues. ``voice`` speaks: the preferred voice, or the next that can.
    """

    def __init__(self, settings: TtsSettings, voice: Synthesizer) -> None:
        self.settings = settings
        self.voice = voice
        self.queues: dict[int, asyncio.Queue[str]] = {}
        self.speakers: dict[int, asyncio.Task[None]] = {}

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

    def hush(self, guild_id: int) -> None:
        """Stop speaking in the guild and forget what was still to be said there."""
        if task := self.speakers.pop(guild_id, None):
            task.cancel()
        self.queues.pop(guild_id, None)

    def hush_all(self) -> None:
        for guild_id in list(self.speakers):
            self.hush(guild_id)

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
        speech = await self.voice.synthesize(said, language=self.settings.language, output="ogg")
        # ffmpeg reads a file of our own, not a pipe: discord.py's pipe-writer thread raced the
        # player's clean-up when speech was cut short, and died on a traceback.
        with tempfile.TemporaryDirectory(
            prefix="voxdesk-speech-", ignore_cleanup_errors=True
        ) as folder:
            path = Path(folder) / "speech.ogg"
            await asyncio.to_thread(path.write_bytes, speech.data)
            voice = guild.voice_client
            if voice is None:
                return  # left while the speech was being made
            source = discord.FFmpegPCMAudio(str(path), executable=ffmpeg_executable())
            finished = asyncio.Event()
            loop = asyncio.get_running_loop()
            voice.play(source, after=lambda error: loop.call_soon_threadsafe(finished.set))  # type: ignore[attr-defined]
            try:
                await finished.wait()
            finally:
                with contextlib.suppress(Exception):
                    source.cleanup()
