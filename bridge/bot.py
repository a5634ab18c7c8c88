"""The bot: a commands.Bot (or AutoShardedBot) holding core's services, one cog per concern."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from voxdesk.bridge.memory import ReplyMemory
from voxdesk.bridge.places import interaction_place, place_of
from voxdesk.bridge.registration import register_if_changed, registration_record
from voxdesk.bridge.replies import explain_command_error, shorten
from voxdesk.bridge.speaker import Speaker
from voxdesk.core.events import BridgeError, BridgeStateChanged, CommandRun
from voxdesk.core.services import Services

log = logging.getLogger(__name__)

EXTENSIONS = (
    "voxdesk.bridge.cogs.chat",
    "voxdesk.bridge.cogs.transcription",
    "voxdesk.bridge.cogs.voice",
    "voxdesk.bridge.cogs.listen",
    "voxdesk.bridge.cogs.training",
)


def intents() -> discord.Intents:
    """Only what the bot uses: messages and their text, guilds, voice states."""
    chosen = discord.Intents.none()
    chosen.guilds = True
    chosen.guild_messages = True
    chosen.dm_messages = True
    chosen.message_content = True
    chosen.guild_reactions = True
    chosen.voice_states = True
    return chosen


DMS_OFF = "Direct messages are turned off by this bot's operator: use my commands in a server."


# Interactions a refusal can answer: autocomplete takes only suggestions, not a message.
ANSWERABLE = (discord.InteractionType.application_command, discord.InteractionType.component)


class VoxTree(app_commands.CommandTree["VoxBot"]):
    """The slash commands and menus. In a direct message while DMs are off they get a private
    refusal rather than silence: Discord shows an unanswered one as "did not respond"."""

    async def interaction_check(self, interaction: discord.Interaction[VoxBot]) -> bool:
        # discord.py asks this before it looks at the interaction's type: autocomplete too.
        if self.client.hears(interaction):
            return True
        if interaction.type not in ANSWERABLE:
            return False
        command = interaction.command.qualified_name if interaction.command else "?"
        self.client.services.events.publish(
            CommandRun(
                interaction_place(interaction), str(interaction.user), command, False, DMS_OFF
            )
        )
        try:
            await interaction.response.send_message(DMS_OFF, ephemeral=True)
        except discord.HTTPException as error:  # expired (10062) or already answered
            log.warning("Could not refuse %s in a direct message: %s", command, error)
        return False


class VoxBot(commands.Bot):
    """The bot, with what its cogs share: core's services, the memory of recent replies and the
    voice that speaks in voice channels."""

    def __init__(
        self,
        services: Services,
        *,
        voice_client_class: type[discord.VoiceProtocol] = discord.VoiceClient,
        connector: aiohttp.BaseConnector | None = None,
    ) -> None:
        super().__init__(
            connector=connector,  # how it reaches Discord, voice servers included (their TLS)
            command_prefix=_prefixes,
            intents=intents(),
            # Nobody gets pinged by accident: no @everyone, no roles, replies do not ping.
            allowed_mentions=discord.AllowedMentions(
                everyone=False, roles=False, replied_user=False
            ),
            help_command=None,
            tree_cls=VoxTree,
        )
        self.services = services
        self.memory = ReplyMemory()
        self.speaker = Speaker(services.settings.tts, services.voice)
        self.voice_client_class = voice_client_class

    async def setup_hook(self) -> None:
        for extension in EXTENSIONS:
            try:
                await self.load_extension(extension)
            except commands.ExtensionError:
                # One broken cog must not take the bot down; the rest still work.
                log.exception("Could not load %s", extension)
                self.services.events.publish(BridgeError(None, f"Could not load {extension}"))
        if not self.services.settings.discord.sync_commands:
            # Turned on again later, it registers at once: the way to force a registration.
            await asyncio.to_thread(registration_record().unlink, missing_ok=True)
        elif self.application_id is not None:
            await self._register_commands(self.application_id)

    async def _register_commands(self, application_id: int) -> None:
        """Register the slash commands if they changed; a refusal must not keep the bot from
        starting (it runs inside login): it is said, and the next start tries again."""
        try:
            await register_if_changed(self.tree, application_id, registration_record())
        except discord.HTTPException as error:
            why = f"Discord refused the slash commands ({error.status}): {error.text or error}"
            log.warning("%s; the ! commands work, the next start registers them again", why)
            self.services.events.publish(BridgeError(None, why))

    def hears(self, place: discord.Message | discord.Interaction[VoxBot]) -> bool:
        """False for a direct message, or a slash command or menu used in one, while DMs are
        off. The bot then says nothing to a command, a voice message or a question there; a
        slash command or menu is refused privately instead (VoxTree)."""
        return place.guild is not None or self.services.settings.discord.reply_in_dms

    async def process_commands(self, message: discord.Message) -> None:
        if self.hears(message):
            await super().process_commands(message)

    async def on_connect(self) -> None:
        self.services.events.publish(BridgeStateChanged("connecting"))

    async def on_ready(self) -> None:
        self.services.events.publish(BridgeStateChanged("connected", f"as {self.user}"))

    async def on_resumed(self) -> None:
        self.services.events.publish(BridgeStateChanged("connected", "resumed"))

    async def on_disconnect(self) -> None:
        self.services.events.publish(BridgeStateChanged("reconnecting"))

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        refused = sys.exc_info()[1]
        if not isinstance(refused, discord.Forbidden):
            await super().on_error(event_method, *args, **kwargs)  # a bug: its traceback
            return
        # A channel the bot may read but not write in is the operator's to fix: one line and
        # the window's feed, not a traceback at every message there.
        message = next((arg for arg in args if isinstance(arg, discord.Message)), None)
        where = f" in #{getattr(message.channel, 'name', 'a direct message')}" if message else ""
        reason = f"Discord refused me{where} ({refused.text}): check my permissions there."
        log.warning("%s", reason)
        self.services.events.publish(BridgeError(place_of(message) if message else None, reason))

    async def on_command_completion(self, ctx: commands.Context[VoxBot]) -> None:
        self.services.events.publish(
            CommandRun(place_of(ctx.message), str(ctx.author), ctx.command.qualified_name, True)
            if ctx.command
            else BridgeError(place_of(ctx.message), "unknown command completed")
        )

    async def on_command_error(  # type: ignore[override]  # the bot's own context type
        self, context: commands.Context[VoxBot], exception: commands.CommandError
    ) -> None:
        # Replaces discord.py's default, which prints a traceback to stderr.
        reason = explain_command_error(context, exception)
        if reason is None:
            return
        reason = shorten(reason)  # it may quote an argument; Discord refuses over 2,000 characters
        name = context.command.qualified_name if context.command else context.invoked_with or "?"
        self.services.events.publish(
            CommandRun(place_of(context.message), str(context.author), name, False, reason)
        )
        # A slash command's error only its user sees; a prefix command's reply is public.
        await context.reply(reason, mention_author=False, ephemeral=context.interaction is not None)


def _prefixes(bot: VoxBot, message: discord.Message) -> list[str]:
    """A mention or the configured prefix, read at each message: a changed setting holds at once."""
    return commands.when_mentioned_or(bot.services.settings.discord.prefix)(bot, message)


class ShardedVoxBot(VoxBot, commands.AutoShardedBot):
    """The same bot on Discord's shards, for very large bots."""


def build_bot(
    services: Services,
    *,
    voice_client_class: type[discord.VoiceProtocol] = discord.VoiceClient,
    connector: aiohttp.BaseConnector | None = None,
) -> VoxBot:
    """The bot for these services; sharded when the settings ask for it."""
    kind = ShardedVoxBot if services.settings.discord.sharded else VoxBot
    return kind(services, voice_client_class=voice_client_class, connector=connector)
