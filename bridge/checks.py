"""Who may run the training commands (a configured role, or Manage Server), and how often a
member may ask for work that costs CPU or money."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from voxdesk.core.config import DiscordSettings

if TYPE_CHECKING:
    from voxdesk.bridge.bot import VoxBot


class NotATrainer(commands.CheckFailure):
    pass


def is_trainer(member: discord.Member, trainer_role: str | None) -> bool:
    if member.guild_permissions.manage_guild:
        return True
    if not trainer_role:
        return False
    return any(trainer_role in (role.name, str(role.id)) for role in member.roles)


def trainer_only() -> Any:
    """A command check: the trainer role (from the settings) or Manage Server, in a server."""

    async def predicate(ctx: commands.Context[VoxBot]) -> bool:
        if ctx.guild is None or not isinstance(ctx.author, discord.Member):
            raise commands.NoPrivateMessage
        role = ctx.bot.services.settings.discord.trainer_role
        if is_trainer(ctx.author, role):
            return True
        raise NotATrainer(f"This command needs {trainers(role)}.")

    return commands.check(predicate)


def trainers(role: str | None) -> str:
    """Who may train, in words: "the 'Trainer' role or the Manage Server permission"."""
    permission = "the Manage Server permission"
    return f"the '{role}' role or {permission}" if role else permission


class SlowDown(commands.CommandError):
    """A member asked again before their cooldown ended.

    ``repeated`` once they have been told in this window: they are not told again.
    """

    def __init__(self, retry_after: float, *, repeated: bool) -> None:
        super().__init__(f"Slow down: try again in {math.ceil(retry_after)} s.")
        self.retry_after = retry_after
        self.repeated = repeated


class MemberCooldown:
    """One costly action per member per ``discord.cooldown_seconds``, whichever way it is asked
    for (a message, a command, a menu), so that no way around it costs more."""

    _seconds: float  # the setting the buckets were made for
    _buckets: commands.CooldownMapping[discord.abc.User]
    _told_until: dict[int, float]  # when each member who was told to slow down may ask again

    def __init__(self, settings: DiscordSettings) -> None:
        self._settings = settings
        self._restart(settings.cooldown_seconds)

    def check(self, member: discord.abc.User) -> None:
        """Count one action for ``member``; raises SlowDown when their window is not over."""
        seconds = self._settings.cooldown_seconds
        if seconds != self._seconds:  # a changed setting holds at once, for everyone
            self._restart(seconds)
        retry_after = self._buckets.update_rate_limit(member) if seconds > 0 else None
        if retry_after is None:
            return
        now = time.time()  # discord.py's cooldowns run on this clock
        repeated = self._told_until.get(member.id, 0) > now
        if not repeated:
            self._told_until = {k: end for k, end in self._told_until.items() if end > now}
            self._told_until[member.id] = now + retry_after
        raise SlowDown(retry_after, repeated=repeated)

    def _restart(self, seconds: float) -> None:
        self._seconds = seconds
        self._buckets = commands.CooldownMapping.from_cooldown(1, seconds, _member_key)
        self._told_until = {}


def _member_key(member: discord.abc.User) -> int:
    return member.id
