"""The window follows settings that other Voxdesk processes save while it runs.

``voxdesk config set`` and ``voxdesk config set-secret`` write the settings file and a stamp
beside it; watches on them ask core's settings store to take the change in, which announces it
as a change made in the window would be: pages refresh, a Discord token starts the bot.

The folder's watch sees a file created or replaced (an atomic save), but not one edited in
place (an editor that writes in place, ``echo >> settings.toml``): the files are watched too,
and watched afresh after every change, as a save that replaces one leaves the watch on the old.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

from voxdesk.core.config.store import SettingsStore
from voxdesk.core.errors import VoxdeskError, user_message

log = logging.getLogger(__name__)

SETTLE_MS = 200  # a save is a few file events: take it in once they stop


class SettingsFollower(QObject):
    """Watches the settings file, its stamps and their folder; ``problem`` says when what was
    saved could not be used."""

    problem = Signal(str)

    def __init__(self, store: SettingsStore, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self._watcher = QFileSystemWatcher(self)
        self._settle = QTimer(self, singleShot=True, interval=SETTLE_MS)
        self._settle.timeout.connect(self._follow)
        self._watcher.directoryChanged.connect(lambda _path: self._settle.start())
        self._watcher.fileChanged.connect(lambda _path: self._settle.start())
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        folder = Path(self._store.path).parent
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        await self._store.start_following()
        self._watcher.addPath(str(folder))
        self._watch_files()

    async def stop(self) -> None:
        if watched := self._watcher.files() + self._watcher.directories():
            self._watcher.removePaths(watched)
        self._settle.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _watch_files(self) -> None:
        """Watch the files that exist afresh, whether or not they look watched: a file put in
        place of the old one keeps the path, and the old file's watch lasts until Qt has seen it
        deleted, which waits for its last reader and may come after the settle."""
        if watched := self._watcher.files():
            self._watcher.removePaths(watched)
        if existing := [str(p) for p in (self._store.path, self._store.stamp_path) if p.exists()]:
            self._watcher.addPaths(existing)

    def _follow(self) -> None:
        self._watch_files()
        if self._task is not None and not self._task.done():
            self._settle.start()  # one read at a time: look again when it is done
            return
        self._task = asyncio.ensure_future(self._take_in())

    async def _take_in(self) -> None:
        try:
            changed = await self._store.follow_file()
        except VoxdeskError as error:
            self.problem.emit(user_message(error))
            return
        if changed:
            log.info("Settings saved elsewhere: %s", ", ".join(sorted(changed)))
