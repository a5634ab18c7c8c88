"""Greeting, assistant replies where they are wanted (to typed messages, and to voice messages once
transcribed), ``!voice_replies`` and ``!test``."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from voxdesk.bridge.attachments import is_audio
from voxdesk.bridge.bot import VoxBot
from voxdesk.bridge.checks import MemberCooldown, SlowDown, trainer_only
from voxdesk.bridge.memory import ReplyMemory
from voxdesk.bridge.places import place_of
from voxdesk.bridge.replies import split_message
from voxdesk.bridge.speaker import Speaker
from voxdesk.core.assistant import Reply
from voxdesk.core.config.settings import VoiceReplies
from voxdesk.core.errors import VoxdeskError, user_message
from voxdesk.core.events import MessageSeen, ReplySent
from voxdesk.core.training.evaluate import (
    QUICK_TEST_MOST,
    QUICK_TEST_PROMPTS,
    evaluate_reply_model,
    summary_lines,
)

log = logging.getLogger(__name__)
MODES: dict[str, VoiceReplies] = {"off": "off", "text": "text", "speech": "text+speech"}
VOICE_REPLIES: dict[VoiceReplies, str] = {
    "off": "Voice messages here get their transcript only.",
    "text": "Voice messages to me here get their transcript and my answer in text.",
    "text+speech": "Voice messages to me here get their transcript and my answer, spoken too "
    "when the author is in my voice channel.",
}


class Chat(commands.Cog):
    def __init__(self, bot: VoxBot, memory: ReplyMemory, speaker: Speaker) -> None:
        self.bot = bot
        self.services = bot.services
        self.settings = self.services.settings.discord
        self.memory = memory  # read by !correct and !feedback
        self.speaker = speaker
        # Each reply is an OpenAI call: replies and !test share one window per member. A voice
        # message costs a transcription and an answer: it counts once in the Transcription cog's
        # window when it arrives, and once in this one when its transcript is ready.
        self.cooldown = MemberCooldown(self.settings)

    @commands.hybrid_command(description="Say hello.")  # type: ignore[arg-type]  # mypy cannot bind the ParamSpec
    async def hi(self, ctx: commands.Context[commands.Bot]) -> None:
        # the prefix command even from /hi: there is no /instruction
        await ctx.reply(f"Привет, {ctx.author.display_name}! 👋 `{self.settings.prefix}help` "
                        "lists what I can do.")  # fmt: skip

    @commands.hybrid_command(  # type: ignore[arg-type]  # mypy cannot bind the ParamSpec
        name="test",
        description="An answer, or a quick evaluation on N validation prompts.",
        usage=f"[count 1-{QUICK_TEST_MOST} | text | JSON list of messages]",
    )
    @app_commands.describe(
        text="What the reply model answers: a prompt, or a JSON list of messages",
        count=f"Compare the reply model and its base on this many validation prompts "
        f"(default {QUICK_TEST_PROMPTS})",
    )
    async def test_model(
        self, ctx: commands.Context[commands.Bot], *, text: str = "",
        count: app_commands.Range[int, 1, QUICK_TEST_MOST] | None = None,
    ) -> None:  # fmt: skip
        """!test TEXT (or a JSON list of messages) is answered by the reply model; !test alone
        or !test N compares the reply model (and its base) on 5 or N (1-50) of the dataset's
        validation prompts. A bare whole number is a count: to have one answered, send it as a
        JSON list of messages."""
        self.cooldown.check(ctx.author)
        # The prefix command reads everything after !test as ``text``; ``count`` is the slash
        # command's own option.
        text = text.strip()
        if count is None and re.fullmatch(r"[+-]?\d+", text):
            count, text = int(text), ""
        if count is not None and text:
            raise commands.BadArgument("Give a text to answer or a count of prompts, not both.")
        if not text:
            await self._quick_evaluation(ctx, QUICK_TEST_PROMPTS if count is None else count)
            return
        messages = _messages_from(text)
        prompt = messages[-1]["content"] if messages else text
        history = messages[:-1] if messages else []
        # /test answers privately: Discord fixes an answer's visibility when it is deferred, before
        # the model has answered or failed, and a slash command's failure is its user's business.
        async with ctx.typing(ephemeral=True):
            reply = await self.services.assistant.reply(
                f"test-{ctx.channel.id}", str(prompt), messages=history
            )
        await self._send(ctx, reply, spoken=False)

    async def _quick_evaluation(self, ctx: commands.Context[commands.Bot], count: int) -> None:
        """The reply model (and its base) on ``count`` validation prompts, summed up."""
        dataset = self.settings.dataset_for(ctx.guild.id if ctx.guild else None)
        async with ctx.typing(ephemeral=True):  # private, as /test's answer (see test_model)
            result = await evaluate_reply_model(self.services, dataset, limit=count)
        lines = [
            *summary_lines(result),
            f"Estimated before asking: {result.plan.estimate.describe()}",
        ]
        await ctx.reply("\n".join(lines)[:2000], mention_author=False, ephemeral=True)

    @commands.hybrid_command(name="voice_replies", description="What voice messages get here.")
    @app_commands.choices(mode=[app_commands.Choice(name=m, value=m) for m in MODES])
    @app_commands.describe(mode="off: transcript only; text: and my answer; speech: spoken too")
    @commands.guild_only()
    @trainer_only()
    async def voice_replies(
        self, ctx: commands.Context[commands.Bot], mode: str | None = None
    ) -> None:
        """Show or choose what a voice message to me gets besides its transcript: off, text (my
        answer) or speech (my answer, also spoken in the author's voice channel)."""
        assert ctx.guild is not None
        if mode is not None:
            if mode not in MODES:
                raise commands.BadArgument(f"'{mode}' is not a choice: off, text or speech.")
            chosen = MODES[mode]
            by_guild = {**self.settings.guild_voice_replies, str(ctx.guild.id): chosen}
            await self.services.settings_store.set("discord.guild_voice_replies", by_guild)
        shown = VOICE_REPLIES[self.settings.voice_replies_for(ctx.guild.id)]
        if not self.settings.auto_transcribe:  # nothing of the above happens then
            shown += " But voice messages get nothing while the operator keeps "
            shown += "discord.auto_transcribe off."
        await ctx.reply(shown)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot:
            return
        self.services.events.publish(MessageSeen(
            place_of(message), message.id, message.author.id, message.author.display_name,
            message.content, tuple(a.filename for a in message.attachments),
        ))  # fmt: skip
        if any(is_audio(a) for a in message.attachments):
            return  # answered, if at all, once transcribed: on_voice_transcript
        if not self.wants_reply(message) or (await self.bot.get_context(message)).valid:
            return  # not for me, or a command that its own handler answers
        text = _without_mention(message, self.bot.user)
        if text:
            await self._answer(message, text, speak=True)

    @commands.Cog.listener()
    async def on_voice_transcript(self, message: discord.Message, transcript: str) -> None:
        """Answer a voice message or audio file the way a typed one is answered, its transcript
        (after the words typed with it, if any) being the question. Dispatched by the
        Transcription cog once the transcript is posted, so the answer comes after it."""
        mode = self.settings.voice_replies_for(message.guild.id if message.guild else None)
        if mode == "off" or not self.wants_reply(message):
            return
        typed = _without_mention(message, self.bot.user)
        question = f"{typed}\n\n{transcript}" if typed else transcript
        await self._answer(message, question, speak=mode == "text+speech")

    async def _answer(self, message: discord.Message, text: str, *, speak: bool) -> None:
        """The assistant's answer to ``text`` as a reply to ``message``, in the channel's
        conversation; spoken too when ``speak`` and the author is listening."""
        try:
            self.cooldown.check(message.author)
        except SlowDown as refusal:
            if not refusal.repeated:  # once: answering each message of a flood would be the spam
                await message.reply(user_message(refusal), mention_author=False)
            return
        try:
            async with message.channel.typing():
                reply = await self.services.assistant.reply(
                    str(message.channel.id), text, author=message.author.display_name
                )
        except VoxdeskError as error:
            log.warning("No reply to %s: %s", message.id, error)
            await message.reply(f"I can't answer right now: {user_message(error)}",
                                mention_author=False)  # fmt: skip
            return
        await self._send(message, reply, spoken=speak)

    async def _send(
        self, to: discord.Message | commands.Context[commands.Bot], reply: Reply, *, spoken: bool
    ) -> None:
        """``reply`` in answer to a message, or to !test (/test: privately)."""
        pieces = split_message(reply.text)
        if isinstance(to, commands.Context):
            message = to.message  # of a slash command: made up by discord.py, not in the channel
            first = await to.reply(pieces[0], mention_author=False, ephemeral=True)
            for piece in pieces[1:]:
                await to.send(piece, ephemeral=True)
        else:
            message = to
            first = await message.reply(pieces[0], mention_author=False)
            for piece in pieces[1:]:
                await message.channel.send(piece)
        self.memory.remember(first.id, message.channel.id, message.author.id, reply)
        said = False
        if spoken and self.settings.speak_replies and isinstance(message.author, discord.Member):
            said = await self.speaker.speak_to(message.author, reply.text)
        question = reply.prompt[-1].get("content", "") if reply.prompt else ""
        self.services.events.publish(ReplySent(
            place_of(message), first.id, reply.text, message.id, spoken=said, question=str(question)
        ))  # fmt: skip

    def wants_reply(self, message: discord.Message) -> bool:
        """Whether ``message`` is addressed to the bot: a reply channel, a direct message, a
        mention or a reply to one of the bot's messages."""
        if message.guild is None:
            return self.bot.hears(message)
        if message.channel.id in self.settings.reply_channels:
            return True
        user = self.bot.user
        replied = message.reference.resolved if message.reference else None
        addressed = user is not None and (
            user in message.mentions
            or (isinstance(replied, discord.Message) and replied.author.id == user.id)
        )
        return bool(self.settings.reply_to_mentions and addressed)


def _messages_from(text: str) -> list[dict[str, Any]]:
    """A JSON list of chat messages, or [] when the text is plain (not JSON)."""
    stripped = text.strip()
    if not stripped.startswith("["):
        return []
    try:
        messages = json.loads(stripped)
    except ValueError as error:
        raise commands.BadArgument(f"That is not valid JSON ({error.args[0]}).") from None
    if (
        not isinstance(messages, list)
        or not messages
        or not all(
            isinstance(m, dict)
            and isinstance(m.get("role"), str)
            and isinstance(m.get("content"), str)
            for m in messages
        )
    ):
        raise commands.BadArgument("Give a list of messages with 'role' and 'content'.")
    return messages


def _without_mention(message: discord.Message, user: discord.ClientUser | None) -> str:
    text = message.content
    if user is not None:
        for form in (f"<@{user.id}>", f"<@!{user.id}>"):
            text = text.replace(form, "")
    return text.strip()


async def setup(bot: VoxBot) -> None:
    await bot.add_cog(Chat(bot, bot.memory, bot.speaker))
