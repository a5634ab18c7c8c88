"""The models the settings choose: removing the one in use gives way to the default."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from voxdesk.core.models.catalogue import Kind
from voxdesk.core.models.store import ModelStore

if TYPE_CHECKING:
    from pathlib import Path

    from voxdesk.core.config import SettingsStore

SETTING: dict[Kind, str] = {"whisper": "speech.whisper_model", "voice": "tts.piper_voice"}


def setting_value(settings: SettingsStore, key: str) -> str:
    """The value in force of the setting ``key`` ("section.name")."""
    section, _, name = key.partition(".")
    return str(getattr(getattr(settings.settings, section), name))


async def remove_model(
    name: str, settings: SettingsStore, store: ModelStore | None = None
) -> tuple[Path, str | None]:
    """Delete the downloaded ``name``; when the settings use it, that setting goes back to its
    default, else every transcription (or the Piper voice) would fail until someone reset it.

    Returns the folder removed and the setting reset, if one was.
    """
    store = store or ModelStore()
    key = SETTING[store.entry(name).kind]
    folder = await asyncio.to_thread(store.remove, name)
    if setting_value(settings, key) != name:
        return folder, None
    await settings.set(key, None)
    return folder, key
