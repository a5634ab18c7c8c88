"""Slash commands and menus registered with Discord when they change, not at every start.

Discord shows a bot's slash commands and menus only once they are registered (a bulk
overwrite of the application's commands, a rate-limited call). Never registering left every
one unseen; registering at each start spends that call for nothing. The commands as sent are
hashed with the application's id and the hash kept with Voxdesk's data: a start whose hash
differs (a new version of Voxdesk, another bot's token) registers again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import platformdirs
from discord import app_commands

log = logging.getLogger(__name__)


def registration_record() -> Path:
    return platformdirs.user_data_path("voxdesk") / "registered-commands"


async def register_if_changed(
    tree: app_commands.CommandTree[Any], application_id: int, record: Path
) -> bool:
    """Register the tree's commands unless ``record`` holds their hash; True if registered."""
    payload = [command.to_dict(tree) for command in tree.get_commands()]
    wanted = json.dumps([application_id, payload], sort_keys=True, default=str)
    digest = hashlib.sha256(wanted.encode()).hexdigest()
    if await asyncio.to_thread(_read, record) == digest:
        return False
    registered = await tree.sync()
    log.info("Registered %d slash commands and menus with Discord", len(registered))
    await asyncio.to_thread(_note, record, digest)
    return True


def _read(record: Path) -> str:
    try:
        return record.read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def _note(record: Path, digest: str) -> None:
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(digest + "\n", encoding="utf-8")
    except OSError as error:  # they are registered; the next start registers them again
        log.warning("Could not note the registered commands in %s: %s", record, error)
