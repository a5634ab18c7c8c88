"""What users are told: split to Discord's limit, and short reasons instead of exceptions."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord.ext import commands

from voxdesk.bridge.checks import SlowDown
from voxdesk.core.errors import VoxdeskError, user_message

log = logging.getLogger(__name__)

DISCORD_LIMIT = 2000
FENCE = "```"
_CLOSE = "\n" + FENCE


def split_message(text: str, limit: int = DISCORD_LIMIT) -> list[str]:
    """Pieces of at most ``limit`` characters, cut at a paragraph, line or word when possible.

    A code block cut in two is closed at the end of one piece and opened again, with its
    language, at the start of the next, so that both halves still show as code.
    """
    pieces: list[str] = []
    text, reopen = text.strip(), ""
    while len(reopen) + len(text) > limit:
        cut = _cut(text[: limit - len(reopen) - len(_CLOSE)])
        piece, text = reopen + text[:cut].rstrip(), text[cut:]
        fence = _open_fence(piece)
        if fence is None:
            pieces.append(piece)
            text, reopen = text.lstrip(), ""
        else:
            pieces.append(piece + _CLOSE)
            # code keeps its indentation; a long info line is not worth repeating
            text, reopen = text.lstrip("\n"), (fence if len(fence) <= limit // 4 else FENCE) + "\n"
    if text:
        pieces.append(reopen + text)
    return pieces


def _cut(window: str) -> int:
    """Where to end a piece: the last paragraph break, else line break, else space, in the
    second half of the window; else the whole window, mid-word, rather than leave scraps."""
    for separator in ("\n\n", "\n", " "):
        cut = window.rfind(separator)
        if cut >= len(window) // 2:
            return cut
    return len(window)


def _open_fence(text: str) -> str | None:
    """The opening line of a code block that ``text`` leaves open, if it does."""
    fence = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(FENCE) and line.count(FENCE) == 1:  # not a one-line block
            fence = None if fence else line
    return fence


def shorten(text: str, limit: int = DISCORD_LIMIT) -> str:
    """``text`` within ``limit``, its middle left out when it is longer: a reason quoting a long
    argument keeps its start and the hint at its end."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + "…" + text[len(text) - (limit - 1 - head) :]


def prefix_of(ctx: commands.Context[Any]) -> str:
    """How to name a command to whoever used this one: / after a slash command, else the
    configured prefix (ctx.prefix may be a mention)."""
    return "/" if ctx.interaction else str(ctx.bot.services.settings.discord.prefix)


def explain_command_error(ctx: commands.Context[Any], error: Exception) -> str | None:
    """A short reason for the user, without secrets, or None to stay silent; details go to the
    log only."""
    original = getattr(error, "original", error)
    # Used as a slash command, a hybrid command's failure is wrapped once more (HybridCommandError
    # around app_commands.CommandInvokeError).
    original = getattr(original, "original", original)
    if isinstance(error, commands.CommandNotFound):
        return None
    if isinstance(error, SlowDown):
        return None if error.repeated else user_message(error)  # told once per window
    if isinstance(error, commands.NoPrivateMessage):
        return "This command works in a server, not in direct messages."
    if isinstance(error, commands.CheckFailure):
        return user_message(error) if str(error) else "You are not allowed to use this command."
    if isinstance(error, commands.UserInputError):
        usage = (
            f"{ctx.prefix}{ctx.command.qualified_name} {ctx.command.signature}"
            if ctx.command
            else ""
        )
        return f"{user_message(error)} Usage: `{usage.strip()}`"
    if isinstance(original, VoxdeskError):
        return user_message(original)
    if isinstance(original, discord.Forbidden):
        refused = original.text or "missing permissions"
        return (f"Discord did not let me do that ({refused}). A moderator can give me the "
                "permission in the channel's or the server's settings.")  # fmt: skip
    log.error("Command %s failed", ctx.command, exc_info=original)
    return "Something went wrong on my side; the operator can see the details in the log."
