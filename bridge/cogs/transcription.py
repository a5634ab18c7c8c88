"""Voice messages and audio files become text: automatically, by !transcribe, or from a menu;
in English, whatever is spoken, by !translate or the menu's Translate twin.

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
from voxdesk.bridge.checks import MemberCooldown, SlowDown, trainer_only
from voxdesk.bridge.places import place_of
from voxdesk.bridge.replies import prefix_of, split_message
from voxdesk.core.errors import VoxdeskError, user_message
from voxdesk.core.events import BridgeError, TranscriptReady
from voxdesk.core.stt import Transcript

log = logging.getLogger(__name__)
PLACEHOLDER = "🎙️ Transcribing…"
TRANSLATING = "🌐 Translating…"
NO_SPEECH = "(no speech heard)"
SWITCHES = {"on": True, "off": False}


class Transcription(commands.Cog):
    def __init__(self, bot: VoxBot) -> None:
        self.bot = bot
        self.services = bot.services
        self.settings = self.services.settings.discord
        # Each transcription is a speech engine run: a voice message, !transcribe, !translate
        # and the menus share one window per member, whoever's audio it is.
        self.cooldown = MemberCooldown(self.settings)
        self.session: aiohttp.ClientSession | None = None
        self.menus = (
            app_commands.ContextMenu(name="Transcribe", callback=self.transcribe_menu),
            app_commands.ContextMenu(name="Translate to English", callback=self.translate_menu),
        )

    async def cog_load(self) -> None:
        self.session = aiohttp.ClientSession()
        for menu in self.menus:
            self.bot.tree.add_command(menu)

    async def cog_unload(self) -> None:
        for menu in self.menus:
            self.bot.tree.remove_command(menu.name, type=menu.type)
        if self.session:
            await self.session.close()

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or not self.settings.auto_transcribe:
            return
        if not self.bot.hears(message):
            return  # DMs off: a transcript is an answer too
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
        await self._command(ctx, translate=False)

    @commands.command(name="translate")
    async def translate_command(self, ctx: commands.Context[commands.Bot]) -> None:
        """Reply to a voice message or audio file with !translate: its words in English."""
        await self._command(ctx, translate=True)

    @commands.hybrid_command(
        name="translate_captions", description="Voice channel captions in English, or as spoken."
    )
    @app_commands.choices(switch=[app_commands.Choice(name=s, value=s) for s in SWITCHES])
    @app_commands.describe(switch="on: captions in English; off: in the language spoken")
    @commands.guild_only()
    @trainer_only()
    async def translate_captions(
        self, ctx: commands.Context[commands.Bot], switch: str | None = None
    ) -> None:
        """Show, or switch on or off, English captions when I listen in a voice channel here."""
        assert ctx.guild is not None
        if switch is not None:
            if switch not in SWITCHES:
                raise commands.BadArgument(f"'{switch}' is not a choice: on or off.")
            by_guild = {
                **self.settings.guild_translate_captions,
                str(ctx.guild.id): SWITCHES[switch],
            }
            await self.services.settings_store.set("discord.guild_translate_captions", by_guild)
        if self.settings.translates_captions(ctx.guild.id):
            await ctx.reply("Voice captions here are translated into English (from the next "
                            f"{prefix_of(ctx)}listen).")  # fmt: skip
        else:
            await ctx.reply("Voice captions here are in the language spoken.")

    async def _command(self, ctx: commands.Context[commands.Bot], *, translate: bool) -> None:
        target = await _referenced(ctx.message)
        audio = [a for a in target.attachments if is_audio(a)] if target else []
        if not audio:
            await ctx.reply("Reply to a voice message or an audio file with this command.")
            return
        assert target is not None
        self.cooldown.check(ctx.author)
        for attachment in audio:
            await self.reply_with_transcript(target, attachment, translate=translate)

    async def transcribe_menu(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> None:
        await self._menu(interaction, message, translate=False)

    async def translate_menu(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> None:
        await self._menu(interaction, message, translate=True)

    async def _menu(
        self, interaction: discord.Interaction, message: discord.Message, *, translate: bool
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
                transcript = await self._transcribe(message, attachment, translate=translate)
                text = transcript.text or NO_SPEECH
            except VoxdeskError as error:
                text = _warning(error)
            for piece in split_message(text):
                await interaction.followup.send(piece)

    async def reply_with_transcript(
        self, message: discord.Message, attachment: discord.Attachment, *, translate: bool = False
    ) -> str:
        """Reply to ``message`` with the attachment's transcript (``translate``: in English);
        the words heard, or "" when none were (no speech, or the audio could not be
        transcribed: the reply says why)."""
        waiting = TRANSLATING if translate else PLACEHOLDER
        placeholder = await message.reply(waiting, mention_author=False)
        try:
            transcript = await self._transcribe(message, attachment, translate=translate)
        except VoxdeskError as error:
            log.info("Could not transcribe %s: %s", attachment.id, error)
            self.services.events.publish(BridgeError(place_of(message), user_message(error)))
            await placeholder.edit(content=_warning(error))
            return ""
        pieces = split_message(transcript.text or NO_SPEECH)
        await placeholder.edit(content=pieces[0])
        for piece in pieces[1:]:
            await message.channel.send(piece)
        return transcript.text.strip()

    async def _transcribe(
        self, message: discord.Message, attachment: discord.Attachment, *, translate: bool = False
    ) -> Transcript:
        assert self.session is not None
        limit = self.services.settings.audio.max_bytes
        data = await read_capped(self.session, attachment, limit)
        # Audio one asks to translate is rarely in the guild's language: Whisper detects it.
        language = "auto" if translate else self._language(message.guild)
        transcript: Transcript = await self.services.speech.transcribe(
            data, language=language, name="the audio", translate=translate
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


def _warning(error: VoxdeskError) -> str:
    """A failed transcription's reply: core names the file "the audio", mid-sentence."""
    reason = user_message(error)
    return f"⚠️ {reason[:1].upper()}{reason[1:]}"


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
