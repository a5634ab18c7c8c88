"""Running the bot: headless until a signal, or as a task on the desktop's loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import aiohttp
import discord

from bridge.bot import build_bot
from core.config import Secret
from core.errors import VoxdeskError
from core.events import BridgeStateChanged
from core.services import Services

log = logging.getLogger(__name__)


class TokenRejected(VoxdeskError):
    """Discord refused the bot token."""


class Bridge:
    """One bot connection that can be started and stopped on the running loop."""

    def __init__(
        self,
        services: Services,
        *,
        voice_client_class: type[discord.VoiceProtocol] = discord.VoiceClient,
    ) -> None:
        self.services = services
        self.bot = build_bot(services, voice_client_class=voice_client_class)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Log in (raising clear errors for a missing or rejected token), then run in the
        background; returns once logged in."""
        token = self.services.secrets.require(Secret.DISCORD_TOKEN)
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
        self._task = asyncio.create_task(self._connect(), name="discord-bridge")

    async def _connect(self) -> None:
        try:
            await self.bot.connect(reconnect=True)
        except (discord.DiscordException, OSError) as error:
            log.error("The Discord connection ended: %s", error)
            self.services.events.publish(BridgeStateChanged("error", str(error)))

    async def wait(self) -> None:
        if self._task is not None:
            await self._task

    async def stop(self) -> None:
        if not self.bot.is_closed():
            await self.bot.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.services.events.publish(BridgeStateChanged("offline"))


async def run_headless(services: Services) -> None:
    """Run the bot until SIGINT or SIGTERM, then close it cleanly."""
    bridge = Bridge(services)
    await bridge.start()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, stopping.set)
    done = asyncio.create_task(bridge.wait())
    stop = asyncio.create_task(stopping.wait())
    try:
        await asyncio.wait({done, stop}, return_when=asyncio.FIRST_COMPLETED)
        log.info("Stopping the bridge")
        await bridge.stop()
    finally:
        stop.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(sig)
