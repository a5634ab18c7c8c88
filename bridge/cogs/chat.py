"""Greeting, assistant replies where they are wanted, and ``!test``."""

from __future__ import annotations

import json
import logging
from typing import Any

import discord
from discord.ext import commands

from voxdesk.bridge.attachments import is_audio
from voxdesk.bridge.bot import VoxBot
from voxdesk.bridge.checks import MemberCooldown, SlowDown
from voxdesk.bridge.memory import ReplyMemory
from voxdesk.bridge.places import place_of
from voxdesk.bridge.replies import split_message
from voxdesk.bridge.speaker import Speaker
from voxdesk.core.assistant import Reply
from voxdesk.core.errors import VoxdeskError, user_message
from voxdesk.core.events import MessageSeen, ReplySent

log = logging.getLogger(__name__)


class Chat(commands.Cog):
    def __init__(self, bot: VoxBot, memory: ReplyMemory, speaker: Speaker) -> None:
        self.bot = bot
        self.services = bot.services
        self.settings = self.services.settings.discord
        self.memory = memory  # read by !correct and !feedback
        self.speaker = speaker
        # Each reply is an OpenAI call: replies and !test share one window per member.
        self.cooldown = MemberCooldown(self.settings)

    @commands.hybrid_command(description="Say hello.")  # type: ignore[arg-type]  # mypy cannot bind the ParamSpec
    async def hi(self, ctx: commands.Context[commands.Bot]) -> None:
        await ctx.reply(f"Привет, {ctx.author.display_name}! 👋 `{ctx.prefix}instruction` "
                        "lists what I can do.")  # fmt: skip

    @commands.hybrid_command(name="test", description="The current model's answer.")  # type: ignore[arg-type]  # mypy cannot bind the ParamSpec
    async def test_model(self, ctx: commands.Context[commands.Bot], *, text: str) -> None:
        """!test <text> or !test <JSON list of messages>."""
        self.cooldown.check(ctx.author)
        messages = _messages_from(text)
        prompt = messages[-1]["content"] if messages else text
        history = messages[:-1] if messages else []
        async with ctx.typing():
            reply = await self.services.assistant.reply(
                f"test-{ctx.channel.id}", str(prompt), messages=history
            )
        await self._send(ctx.message, reply, spoken=False)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot:
            return
        self.services.events.publish(MessageSeen(
            place_of(message), message.id, message.author.id, message.author.display_name,
            message.content, tuple(a.filename for a in message.attachments),
        ))  # fmt: skip
        if not self._wants_reply(message) or any(is_audio(a) for a in message.attachments):
            return
        if (await self.bot.get_context(message)).valid:
            return  # a command: its own handler answers
        text = _without_mention(message, self.bot.user)
        if not text:
            return
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
        await self._send(message, reply, spoken=True)

    async def _send(self, message: discord.Message, reply: Reply, *, spoken: bool) -> None:
        pieces = split_message(reply.text)
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

    def _wants_reply(self, message: discord.Message) -> bool:
        if message.guild is None:
            return bool(self.settings.reply_in_dms)
        if message.channel.id in self.settings.reply_channels:
            return True
        user = self.bot.user
        mentioned = user is not None and user in message.mentions
        return bool(self.settings.reply_to_mentions and mentioned)


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
