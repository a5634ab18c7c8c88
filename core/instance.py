"""One bot per profile: a lock in the profile's data folder, held while a bot runs.

The lock is the operating system's (flock on Unix, LockFileEx on Windows, through filelock), so
the system lets go of it when its holder dies, even by SIGKILL or a power cut: no stale lock is
ever left to remove by hand. A small JSON note beside it says who holds it, for the message the
next one to try sees; a note left by a dead holder is simply overwritten.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import filelock

from voxdesk.core.errors import VoxdeskError

FrontEnd = Literal["window", "bridge"]
FRONT_END_NAMES: dict[FrontEnd, str] = {"window": "the Voxdesk window",
                                        "bridge": "`voxdesk bridge`"}  # fmt: skip
READ_ONLY = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


class BotRunningElsewhere(VoxdeskError):
    """Another process runs this profile's bot."""


class ProfileNotLockable(VoxdeskError):
    """The data folder cannot hold the bot's lock, so the bot does not start."""


class DataFolderUnwritable(VoxdeskError):
    """Nothing can be saved in the data folder."""


@dataclass(frozen=True)
class Holder:
    front_end: FrontEnd
    pid: int
    host: str
    since: str  # ISO 8601, with the holder's UTC offset

    def describe(self) -> str:
        started = datetime.fromisoformat(self.since).strftime("%Y-%m-%d %H:%M")
        name = FRONT_END_NAMES.get(self.front_end, "another Voxdesk")
        return f"{name} (pid {self.pid} on {self.host}, since {started})"


class BotLock:
    """Held by the process that runs the bot of the profile whose data folder is ``folder``."""

    def __init__(self, folder: Path, front_end: FrontEnd) -> None:
        self.folder = folder
        self.front_end = front_end
        # Not thread-local: the lock is taken in a worker thread and given back in another.
        # No soft fallback: a marker file on a folder without locks could be left behind by a
        # crash, and two hosts sharing the folder could not tell whether its owner still runs.
        self._lock = filelock.FileLock(folder / "bot.lock", thread_local=False,
                                       fallback_to_soft=False)  # fmt: skip
        self._note = folder / "bot.json"

    @property
    def held(self) -> bool:
        return self._lock.is_locked

    def acquire(self) -> None:
        """Take the lock without waiting; raises BotRunningElsewhere while another process
        holds it and ProfileNotLockable when the folder cannot hold one. Blocks on file I/O."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._lock.acquire(timeout=0)
        except filelock.Timeout:
            holder = self.holder()
            where = holder.describe() if holder else "another Voxdesk process"
            raise BotRunningElsewhere(
                f"The bot for this profile already runs in {where}.",
                hint="Stop it there first: one profile runs one bot, or Discord would get "
                "every answer twice.",
            ) from None
        except OSError as error:
            raise _not_lockable(self.folder, error) from None
        with contextlib.suppress(OSError):  # the note only improves the other side's message
            self._write_note()

    def release(self) -> None:
        if not self._lock.is_locked:
            return
        with contextlib.suppress(OSError):
            self._note.unlink(missing_ok=True)
        self._lock.release()

    def holder(self) -> Holder | None:
        """Who holds the lock, as its note says (None if the note is missing or unreadable)."""
        try:
            return Holder(**json.loads(self._note.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None

    def _write_note(self) -> None:
        holder = Holder(self.front_end, os.getpid(), socket.gethostname(),
                        datetime.now().astimezone().isoformat(timespec="seconds"))  # fmt: skip
        partial = self._note.with_name(f".{self._note.name}.{os.getpid()}")
        partial.write_text(json.dumps(asdict(holder)), encoding="utf-8")
        partial.replace(self._note)  # readers never see half a note


def check_data_folder(folder: Path) -> None:
    """Raise DataFolderUnwritable unless a file can be written in ``folder`` (made if missing).

    The window refuses to open then, rather than open and lose every transcript and dataset
    change made in it.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise DataFolderUnwritable(
            f"The data folder {folder} is not writable ({error.strerror or error}): Voxdesk "
            "keeps its datasets, fine-tune jobs and transcripts there.",
            hint="Make it writable, or give Voxdesk a writable data folder (XDG_DATA_HOME on "
            "Linux).",
        ) from None


def _not_lockable(folder: Path, error: OSError) -> ProfileNotLockable:
    reason = error.strerror or type(error).__name__
    if error.errno in READ_ONLY:
        return ProfileNotLockable(
            f"The bot cannot start: the data folder {folder} is not writable ({reason}).",
            hint="Make it writable, or give Voxdesk a writable data folder (XDG_DATA_HOME on "
            "Linux).",
        )
    return ProfileNotLockable(
        f"The bot cannot start: the data folder {folder} cannot lock files ({reason}); a "
        "network share without locking could let two bots run on one profile.",
        hint="Keep the data folder on a local disk, or enable locking on the share.",
    )
