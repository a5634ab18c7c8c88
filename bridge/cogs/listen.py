"""Listening in voice channels: live captions by speaker, and members' right to stay out."""

from __future__ import annotations

import io
import logging
import re
from functools import partial

import discord
from discord import app_commands
from discord.ext import commands

from voxdesk.bridge.bot import VoxBot
from voxdesk.bridge.checks import trainer_only
from voxdesk.bridge.joining import join_voice
from voxdesk.bridge.places import place_of
from voxdesk.bridge.replies import prefix_of, split_message
from voxdesk.bridge.voice.receiver import ListeningVoiceClient
from voxdesk.bridge.voice.session import ListeningSession
from voxdesk.core.errors import VoxdeskError, user_message
from voxdesk.core.events import ReplySent
from voxdesk.core.stt.base import split_language
from voxdesk.core.stt.formats import OutputFormat, render
from voxdesk.core.stt.streaming import LiveTranscriber, live_transcriber
from voxdesk.core.stt.whisper import WhisperTranscriber

log = logging.getLogger(__name__)


class Listen(commands.Cog):
    def __init__(self, bot: VoxBot) -> None:
        self.bot = bot
        self.services = bot.services
        self.settings = self.services.settings.discord
        self.sessions: dict[int, ListeningSession] = {}  # by guild id
        self.finished: dict[int, ListeningSession] = {}  # the last one, for !transcript

    async def cog_unload(self) -> None:
        for guild_id in list(self.sessions):
            await self._end(guild_id)

    @commands.hybrid_command(description="Caption your voice channel live, in a text channel.")
    @app_commands.describe(channel="Where the captions go (default: this channel)")
    @commands.guild_only()
    @trainer_only()
    async def listen(
        self, ctx: commands.Context[VoxBot], channel: discord.TextChannel | None = None
    ) -> None:
        """Start listening in the caller's voice channel; captions go to ``channel`` or here."""
        assert ctx.guild is not None and isinstance(ctx.author, discord.Member)
        await ctx.defer()  # /listen: Discord takes a first answer within 3 s; loading and joining
        wanted = ctx.author.voice.channel if ctx.author.voice else None
        if not isinstance(wanted, discord.VoiceChannel):
            raise VoxdeskError("Join a voice channel first, then ask me to listen there.")
        captions = channel or ctx.channel
        assert isinstance(captions, discord.abc.Messageable)
        new_transcriber = partial(self._new_transcriber, ctx.guild.id)
        new_transcriber()  # the engine must stream: say so now, not at the first word
        engine = self.services.speech.transcriber()
        if isinstance(engine, WhisperTranscriber):
            await engine.load()  # now, rather than in the first speaker's first pass
        await self._end(ctx.guild.id)
        voice = await self._connect(wanted)
        session = ListeningSession(
            voice, captions, self.services.events, new_transcriber=new_transcriber,
            wanted=self._wanted, max_speakers=self.settings.max_listened_speakers,
            on_utterance=partial(self._answer_if_called, ctx.guild, captions),
        )  # fmt: skip
        session.start()
        self.sessions[ctx.guild.id] = session
        announcement = (
            f"🎙️ Listening in **{wanted.name}**: what members say appears here as captions. "
            f"`{prefix_of(ctx)}optout` keeps your voice out; `{prefix_of(ctx)}stop` ends it."
        )
        try:
            await captions.send(announcement)
        except discord.HTTPException:
            await self._end(ctx.guild.id)  # nobody was told they are captioned: nobody is
            await ctx.guild.change_voice_state(channel=wanted, self_deaf=True)
            raise
        if captions != ctx.channel or ctx.interaction is not None:
            await ctx.reply(f"Listening in {wanted.name}; captions go to {captions}.")

    @commands.hybrid_command(description="Stop listening in the voice channel.")
    @commands.guild_only()
    @trainer_only()
    async def stop(self, ctx: commands.Context[VoxBot]) -> None:
        assert ctx.guild is not None
        if not await self._end(ctx.guild.id):
            await ctx.reply("I'm not listening here.")
            return
        voice = ctx.guild.voice_client
        if voice is not None:  # deafened, Discord stops sending the channel's audio at all
            await ctx.guild.change_voice_state(channel=voice.channel, self_deaf=True)  # type: ignore[arg-type]
        await ctx.reply("Stopped listening.")

    @commands.hybrid_command(description="The captions of the last listening session, as a file.")
    @app_commands.describe(file_format="txt, srt, vtt or json (default: txt)")
    @commands.guild_only()
    @trainer_only()
    async def transcript(
        self, ctx: commands.Context[VoxBot], file_format: OutputFormat = "txt"
    ) -> None:
        assert ctx.guild is not None
        session = self.sessions.get(ctx.guild.id) or self.finished.get(ctx.guild.id)
        if session is None or not session.lines:
            raise VoxdeskError(
                "Nobody has been captioned here yet.",
                hint=f"Start with {prefix_of(ctx)}listen.",
            )
        text = render(session.transcript(self.services.speech.transcriber().name), file_format)
        name = f"voice-{session.channel.name}.{file_format}"
        await ctx.reply(file=discord.File(io.BytesIO(text.encode()), filename=name))

    @commands.hybrid_command(description="Never transcribe your voice.")  # type: ignore[arg-type]  # mypy cannot bind the ParamSpec
    async def optout(self, ctx: commands.Context[VoxBot]) -> None:
        member = ctx.author.id
        if member not in self.settings.listen_opt_outs:
            await self._save_opt_outs([*self.settings.listen_opt_outs, member])
        for session in self.sessions.values():
            session.forget(member)
        await ctx.reply(
            f"Your voice will not be transcribed. `{prefix_of(ctx)}optin` undoes this.",
            ephemeral=True,
        )

    @commands.hybrid_command(description="Allow your voice to be transcribed again.")  # type: ignore[arg-type]  # mypy cannot bind the ParamSpec
    async def optin(self, ctx: commands.Context[VoxBot]) -> None:
        member = ctx.author.id
        if member in self.settings.listen_opt_outs:
            await self._save_opt_outs([m for m in self.settings.listen_opt_outs if m != member])
        await ctx.reply("Your voice can be transcribed again when I listen.", ephemeral=True)

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        session = self.sessions.get(member.guild.id)
        if self.bot.user is None or member.id != self.bot.user.id or session is None:
            return
        if after.channel is None:
            reason = "I left the voice channel."
        elif after.channel != session.channel:
            # Those in the new channel were never told they would be captioned: end, deafened.
            listen = f"{self.settings.prefix}listen"
            reason = f"I was moved to **{after.channel.name}**; `{listen}` there to caption it."
        else:
            return  # deafened, muted, or the same channel again
        await self._end(member.guild.id)
        if after.channel is not None:
            await member.guild.change_voice_state(channel=after.channel, self_deaf=True)
        await session.captions.send(f"Stopped listening: {reason}")

    async def _connect(self, channel: discord.VoiceChannel) -> ListeningVoiceClient:
        """Be in ``channel`` with a client that can hear, undeafened (else Discord sends no
        audio)."""
        current = channel.guild.voice_client
        if isinstance(current, ListeningVoiceClient) and current.channel == channel:
            await channel.guild.change_voice_state(channel=channel, self_deaf=False)
            return current
        if current is not None:
            await current.disconnect(force=True)
        return await join_voice(channel, ListeningVoiceClient, self_deaf=False)

    async def _end(self, guild_id: int) -> bool:
        session = self.sessions.pop(guild_id, None)
        if session is None:
            return False
        await session.stop()
        self.finished[guild_id] = session
        return True

    def _wanted(self, member_id: int) -> bool:
        return member_id not in self.settings.listen_opt_outs

    def _new_transcriber(self, guild_id: int) -> LiveTranscriber:
        chosen = self.settings.guild_languages.get(str(guild_id))
        language = split_language(chosen or self.services.settings.speech.language)
        translate = self.settings.translates_captions(guild_id)  # !translate_captions
        return live_transcriber(
            self.services.speech.transcriber(), language=language, translate=translate
        )

    async def _answer_if_called(
        self, guild: discord.Guild, captions: discord.abc.Messageable, member_id: int, text: str
    ) -> None:
        """Voice conversation: an utterance that starts with the wake name is a question to the
        assistant, answered in the captions channel and aloud."""
        question = addressed(text, self.settings.wake_name or guild.me.display_name)
        member = guild.get_member(member_id)
        if not question or member is None:
            return
        try:
            reply = await self.services.assistant.reply(
                str(guild.id), question, author=member.display_name
            )
        except VoxdeskError as error:
            await captions.send(f"I can't answer right now: {user_message(error)}")
            return
        for piece in split_message(f"**{guild.me.display_name}** → {member.mention}: {reply.text}"):
            sent = await captions.send(piece, allowed_mentions=discord.AllowedMentions.none())
        said = guild.voice_client is not None
        if said:
            await self.bot.speaker.say(guild, reply.text)
        self.services.events.publish(
            ReplySent(place_of(sent), sent.id, reply.text, spoken=said, question=question)
        )

    async def _save_opt_outs(self, members: list[int]) -> None:
        await self.services.settings_store.set("discord.listen_opt_outs", members)


def addressed(text: str, wake_name: str) -> str | None:
    """What follows ``wake_name`` when ``text`` starts with it ("Voxdesk, what time is it?"),
    whatever the case and punctuation; None when it does not."""
    found = re.match(rf"\W*{re.escape(wake_name)}\b\W*(\w.*)", text, re.IGNORECASE | re.DOTALL)
    return found.group(1).strip() if found else None


async def setup(bot: VoxBot) -> None:
    await bot.add_cog(Listen(bot))
