"""The window takes in what another program wrote to the settings file, however it wrote it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from voxdesk.core.config import Settings, SettingsStore, load_settings
from voxdesk.core.events import EventBus, SettingsChanged, Subscription
from voxdesk.desktop.following import SettingsFollower

Changes = Subscription[SettingsChanged]


def append_in_place(path: Path, text: str) -> None:
    """Write into the file itself, as ``echo >> settings.toml`` or many editors do: no new file
    takes its place, so a watch on the folder alone hears nothing."""
    with path.open("r+", encoding="utf-8") as file:
        file.seek(0, 2)
        file.write(text)


def following(path: Path) -> tuple[Settings, SettingsFollower, Changes]:
    """A window's settings read from ``path``, its follower, and what the follower announces."""
    path.write_text('[speech]\nlanguage = "de"\n')
    settings, events = load_settings(path), EventBus()
    follower = SettingsFollower(SettingsStore(settings, path, events=events))
    return settings, follower, events.subscribe(SettingsChanged)


async def announced(changes: Changes) -> frozenset[str]:
    return (await asyncio.wait_for(changes.get(), 10)).keys


async def replaced_then_edited(path: Path, changes: Changes) -> None:
    """A save elsewhere puts a new file in place of the watched one, which is taken in; then
    the new file is edited in place, which is taken in too: the new one is watched in turn."""
    await SettingsStore(Settings(), path).set("speech.language", "ru")
    assert await announced(changes) == {"speech.language"}
    append_in_place(path, "[audio]\nmax_seconds = 60\n")
    assert await announced(changes) == {"audio.max_seconds"}


def test_a_settings_file_edited_in_place_is_taken_in(
    qloop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    path = tmp_path / "settings.toml"
    settings, follower, changes = following(path)

    async def story() -> None:
        await follower.start()
        append_in_place(path, "[assistant]\ntemperature = 1.5\n")
        assert await announced(changes) == {"assistant.temperature"}
        await replaced_then_edited(path, changes)
        await follower.stop()

    qloop.run_until_complete(story())
    assert (settings.assistant.temperature, settings.speech.language) == (1.5, "ru")
    assert settings.audio.max_seconds == 60


def test_a_file_replaced_while_the_old_one_lingers_is_watched_afresh(
    qloop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    # While anything still holds the old file (a reader, an editor, a slow Qt event), its watch
    # lives on and the path still looks watched: only a fresh watch follows the new file.
    path = tmp_path / "settings.toml"
    settings, follower, changes = following(path)

    async def story() -> None:
        await follower.start()
        with path.open(encoding="utf-8"):  # the replaced file lingers while this is open
            await replaced_then_edited(path, changes)
        await follower.stop()

    qloop.run_until_complete(story())
    assert settings.audio.max_seconds == 60
