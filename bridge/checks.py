"""Who may run the training commands: a configured role, or Manage Server."""

from __future__ import annotations

from typing import Any

import discord
from discord.ext import commands


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

    async def predicate(ctx: commands.Context[commands.Bot]) -> bool:
        if ctx.guild is None or not isinstance(ctx.author, discord.Member):
            raise commands.NoPrivateMessage
        role = getattr(ctx.bot, "services").settings.discord.trainer_role  # noqa: B009
        if is_trainer(ctx.author, role):
            return True
        needed = f"the '{role}' role or" if role else ""
        raise NotATrainer(
            f"This command needs {needed} the Manage Server permission.".replace("  ", " ")
        )

    return commands.check(predicate)


def per_user_cooldown(seconds: float) -> commands.CooldownMapping[discord.Message]:
    """One action per ``seconds`` for each user, checked with ``update_rate_limit(message)``."""
    return commands.CooldownMapping.from_cooldown(1, seconds, commands.BucketType.user)
