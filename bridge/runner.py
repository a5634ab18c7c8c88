"""Running the bot: headless until a signal, or as a task on the desktop's loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable

import aiohttp
import discord
from discord.gateway import KeepAliveHandler

from voxdesk.bridge.bot import build_bot
from voxdesk.bridge.joining import join_voice
from voxdesk.bridge.places import place_of
from voxdesk.bridge.replies import split_message
from voxdesk.core.config import Secret
from voxdesk.core.errors import VoxdeskError, user_message
from voxdesk.core.events import BridgeStateChanged, ChannelInfo, GuildInfo, ReplySent
from voxdesk.core.instance import BotLock, FrontEnd, TokenLock
from voxdesk.core.services import Services
from voxdesk.core.startup import (
    freeze_start_up_objects,
    import_openai_ahead,
    load_token_table,
)

log = logging.getLogger(__name__)


class TokenRejected(VoxdeskError):
    """Discord refused the bot token."""


class MessageContentOff(VoxdeskError):
    """Discord closed the connection: the bot's Message Content intent is not turned on."""

    def __init__(self) -> None:
        super().__init__(
            "Discord refused the bot's Message Content intent, without which it cannot read "
            "commands.",
            hint="Turn on Message Content Intent in the Developer Portal (your application → "
            "Bot → Privileged Gateway Intents), then start the bot again.",
        )


class Bridge:
    """One bot connection that can be started and stopped on the running loop."""

    def __init__(
        self,
        services: Services,
        *,
        voice_client_class: type[discord.VoiceProtocol] = discord.VoiceClient,
        connector: aiohttp.BaseConnector | None = None,
        front_end: FrontEnd = "bridge",
    ) -> None:
        self.services = services
        self.bot = build_bot(services, voice_client_class=voice_client_class, connector=connector)
        self._task: asyncio.Task[None] | None = None
        self._lock = BotLock(services.database.path.parent, front_end)
        self._token_lock: TokenLock | None = None
        self.failure: VoxdeskError | None = None  # why the connection ended by itself, if it did

    async def start(self) -> None:
        """Log in (raising clear errors for a missing or rejected token, or a bot that runs
        elsewhere on this profile or with this token), then run in the background; returns
        once logged in."""
        token = self.services.secrets.require(Secret.DISCORD_TOKEN)
        await asyncio.to_thread(self._lock.acquire)  # one bot per profile, or each answer twice
        self._token_lock = TokenLock(token, self._lock.folder, self._lock.front_end)
        try:
            await asyncio.to_thread(self._token_lock.acquire)  # and one per token, any profile
            await self._login(token)
        except BaseException:
            self._release_locks()
            raise
        self._task = asyncio.create_task(self._connect(), name="discord-bridge")

    async def _login(self, token: str) -> None:
        self.services.events.publish(BridgeStateChanged("connecting"))
        try:
            await self.bot.login(token)
        except discord.LoginFailure as error:
            self.services.events.publish(BridgeStateChanged("error", "token rejected"))
            await self.bot.close()
            raise TokenRejected(
                "Discord rejected the bot token.",
                hint="Copy the token again from the Developer Portal (Bot → Reset Token) and set "
                "DISCORD_TOKEN or the keyring entry.",
            ) from error
        except (aiohttp.ClientError, OSError, discord.HTTPException) as error:
            self.services.events.publish(BridgeStateChanged("error", "unreachable"))
            await self.bot.close()
            raise VoxdeskError(
                f"Discord cannot be reached: {error}.",
                hint="Check the internet connection (or a proxy), then start the bot again.",
            ) from error

    async def _connect(self) -> None:
        try:
            await self.bot.connect(reconnect=True)
        except discord.PrivilegedIntentsRequired:
            self._fail(MessageContentOff())
        except (discord.DiscordException, OSError) as error:
            self._fail(VoxdeskError(f"The Discord connection ended: {user_message(error)}"))

    def _fail(self, failure: VoxdeskError) -> None:
        # Told once by its owner: the window shows the event, `voxdesk bridge` exits with it.
        log.info("%s", failure)
        self.failure = failure
        self.services.events.publish(BridgeStateChanged("error", user_message(failure)))

    def guilds(self) -> list[GuildInfo]:
        """The guilds and channels the bot can see, as plain data for the window."""
        found = []
        for guild in self.bot.guilds:
            channels = tuple(
                ChannelInfo(c.id, c.name, isinstance(c, discord.VoiceChannel))
                for c in sorted(guild.channels, key=lambda c: c.position)
                if isinstance(c, discord.TextChannel | discord.VoiceChannel)
            )
            voice = getattr(guild.voice_client, "channel", None)
            found.append(GuildInfo(guild.id, guild.name, channels, voice.id if voice else None))
        return found

    async def send(self, channel_id: int, text: str) -> None:
        """Post ``text`` as the bot (split at Discord's limit)."""
        channel = self.bot.get_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            raise VoxdeskError("The bot cannot write in that channel.")
        for piece in split_message(text):
            sent = await channel.send(piece)
            self.services.events.publish(ReplySent(place_of(sent), sent.id, piece))

    async def join(self, channel_id: int) -> None:
        channel = self.bot.get_channel(channel_id)
        if not isinstance(channel, discord.VoiceChannel):
            raise VoxdeskError("That is not a voice channel.")
        current = channel.guild.voice_client
        if current is not None:
            await current.disconnect(force=True)
        await join_voice(channel, self.bot.voice_client_class, self_deaf=True)

    async def leave(self, guild_id: int) -> None:
        guild = self.bot.get_guild(guild_id)
        if guild is None or guild.voice_client is None:
            raise VoxdeskError("The bot is not in a voice channel there.")
        await guild.voice_client.disconnect(force=True)

    async def speak(self, guild_id: int, text: str) -> None:
        """Say ``text`` in the voice channel the bot has joined in that guild."""
        guild = self.bot.get_guild(guild_id)
        if guild is None:
            raise VoxdeskError("The bot is not in that guild.")
        await self.bot.speaker.say(guild, text)

    async def wait(self) -> None:
        if self._task is not None:
            await self._task

    async def stop(self) -> None:
        heartbeats = _heartbeat_threads(asyncio.get_running_loop())
        if not self.bot.is_closed():
            await self.bot.close()
        if self._task is not None:
            # Closing the client ends connect(); cancel only if it does not end in time.
            done, _ = await asyncio.wait({self._task}, timeout=10)
            if not done:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        # discord.py tells its heartbeat thread to stop but does not wait for it. A beat already
        # under way would reach for this loop after its owner closed it; let it end while the
        # loop still runs.
        await asyncio.gather(*(asyncio.to_thread(thread.join, 5) for thread in heartbeats))
        self._release_locks()
        self.services.events.publish(BridgeStateChanged("offline"))

    def _release_locks(self) -> None:
        if self._token_lock is not None:
            self._token_lock.release()
        self._lock.release()


def _heartbeat_threads(loop: asyncio.AbstractEventLoop) -> list[KeepAliveHandler]:
    return [thread for thread in threading.enumerate()
            if isinstance(thread, KeepAliveHandler) and thread.ws.loop is loop]  # fmt: skip


async def check_token(token: str) -> str:
    """Log in once with ``token`` to see whether Discord accepts it; the bot's name if so."""
    client = discord.Client(intents=discord.Intents.none())
    try:
        await client.login(token)
        return f"Discord accepted the token: the bot is {client.user}."
    except discord.LoginFailure as error:
        raise TokenRejected("Discord rejected the bot token.") from error
    except (aiohttp.ClientError, OSError, discord.HTTPException) as error:
        raise VoxdeskError(f"Discord cannot be reached: {error}.") from error
    finally:
        await client.close()


async def run_headless(services: Services, on_started: Callable[[], None] = lambda: None) -> None:
    """Run the bot until SIGINT or SIGTERM, then close it cleanly; ``on_started`` runs once it
    has logged in."""
    bridge = Bridge(services)
    load_token_table(services.secrets, services.settings.assistant.model)  # before any message
    await bridge.start()
    freeze_start_up_objects()  # logged in: what is alive now stays as long as the bot
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, stopping.set)
    on_started()  # only now does a signal stop the bot cleanly
    await import_openai_ahead(services.secrets)
    done = asyncio.create_task(bridge.wait())
    stop = asyncio.create_task(stopping.wait())
    try:
        await asyncio.wait({done, stop}, return_when=asyncio.FIRST_COMPLETED)
        log.info("Stopping the bridge")
        await bridge.stop()
        if bridge.failure is not None:  # ended by itself, not by a signal: a failed start-up
            raise bridge.failure
    finally:
        stop.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(sig)
