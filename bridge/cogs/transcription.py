"""Voice messages and audio files become text: automatically, by !transcribe, or from a menu.

An automatic transcript is handed on (the ``voice_transcript`` event) to the chat, which answers
it where the message was for the bot."""

from __future__ import annotations

import logging

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from voxdesk.bridge.attachments import is_audio, read_capped
from voxdesk.bridge.bot import VoxBot
from voxdesk.bridge.checks import MemberCooldown, SlowDown
from voxdesk.bridge.places import place_of
from voxdesk.bridge.replies import split_message
from voxdesk.core.errors import VoxdeskError, user_message
from voxdesk.core.events import BridgeError, TranscriptReady
from voxdesk.core.stt import Transcript

log = logging.getLogger(__name__)
PLACEHOLDER = "🎙️ Transcribing…"
NO_SPEECH = "(no speech heard)"


class Transcription(commands.Cog):
    def __init__(self, bot: VoxBot) -> None:
        self.bot = bot
        self.services = bot.services
        self.settings = self.services.settings.discord
        # Each transcription is a speech engine run: a voice message, !transcribe and the menu
        # share one window per member, whoever's audio it is.
        self.cooldown = MemberCooldown(self.settings)
        self.session: aiohttp.ClientSession | None = None
        self.menu = app_commands.ContextMenu(name="Transcribe", callback=self.transcribe_menu)

    async def cog_load(self) -> None:
        self.session = aiohttp.ClientSession()
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)
        if self.session:
            await self.session.close()

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or not self.settings.auto_transcribe:
            return
        audio = [attachment for attachment in message.attachments if is_audio(attachment)]
        if not audio or (await self.bot.get_context(message)).valid:
            return
        try:
            self.cooldown.check(message.author)
        except SlowDown as refusal:
            if not refusal.repeated:
                await message.reply(user_message(refusal), mention_author=False)
            return
        # every audio attachment, not just the first
        heard = [await self.reply_with_transcript(message, attachment) for attachment in audio]
        transcript = "\n\n".join(text for text in heard if text)
        if transcript:  # the chat answers it if the message was for the bot
            self.bot.dispatch("voice_transcript", message, transcript)

    @commands.command(name="transcribe")
    async def transcribe_command(self, ctx: commands.Context[commands.Bot]) -> None:
        """Reply to a voice message or audio file with !transcribe."""
        target = await _referenced(ctx.message)
        audio = [a for a in target.attachments if is_audio(a)] if target else []
        if not audio:
            await ctx.reply("Reply to a voice message or an audio file with this command.")
            return
        assert target is not None
        self.cooldown.check(ctx.author)
        for attachment in audio:
            await self.reply_with_transcript(target, attachment)

    async def transcribe_menu(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> None:
        audio = [attachment for attachment in message.attachments if is_audio(attachment)]
        if not audio:
            await interaction.response.send_message("That message has no audio.", ephemeral=True)
            return
        try:
            self.cooldown.check(interaction.user)
        except SlowDown as refusal:
            # Told once; after that Discord shows the use as unanswered rather than us repeating.
            if not refusal.repeated:
                await interaction.response.send_message(user_message(refusal), ephemeral=True)
            return
        await interaction.response.defer(thinking=True)
        for attachment in audio:
            try:
                text = (await self._transcribe(message, attachment)).text or NO_SPEECH
            except VoxdeskError as error:
                text = f"⚠️ {user_message(error)}"
            for piece in split_message(text):
                await interaction.followup.send(piece)

    async def reply_with_transcript(
        self, message: discord.Message, attachment: discord.Attachment
    ) -> str:
        """Reply to ``message`` with the attachment's transcript; the words heard, or "" when
        none were (no speech, or the audio could not be transcribed: the reply says why)."""
        placeholder = await message.reply(PLACEHOLDER, mention_author=False)
        try:
            transcript = await self._transcribe(message, attachment)
        except VoxdeskError as error:
            log.info("Could not transcribe %s: %s", attachment.id, error)
            self.services.events.publish(BridgeError(place_of(message), user_message(error)))
            await placeholder.edit(content=f"⚠️ {user_message(error)}")
            return ""
        pieces = split_message(transcript.text or NO_SPEECH)
        await placeholder.edit(content=pieces[0])
        for piece in pieces[1:]:
            await message.channel.send(piece)
        return transcript.text.strip()

    async def _transcribe(
        self, message: discord.Message, attachment: discord.Attachment
    ) -> Transcript:
        assert self.session is not None
        limit = self.services.settings.audio.max_bytes
        data = await read_capped(self.session, attachment, limit)
        transcript: Transcript = await self.services.speech.transcribe(
            data, language=self._language(message.guild), name="the audio"
        )
        self.services.events.publish(TranscriptReady(
            place_of(message), message.id, message.author.display_name, transcript.text,
            transcript.language, transcript.engine, transcript.timings.audio_seconds,
        ))  # fmt: skip
        return transcript

    def _language(self, guild: discord.Guild | None) -> str:
        by_guild: dict[str, str] = self.settings.guild_languages
        if guild is not None and str(guild.id) in by_guild:
            return by_guild[str(guild.id)]
        engine_default: str = self.services.settings.speech.language
        fallback: str = self.settings.language
        return engine_default if engine_default != "auto" else fallback


async def _referenced(message: discord.Message) -> discord.Message | None:
    reference = message.reference
    if reference is None or reference.message_id is None:
        return None
    if isinstance(reference.resolved, discord.Message):
        return reference.resolved
    try:
        return await message.channel.fetch_message(reference.message_id)
    except discord.HTTPException:
        return None


async def setup(bot: VoxBot) -> None:
    await bot.add_cog(Transcription(bot))
