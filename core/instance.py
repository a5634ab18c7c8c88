"""One bot per profile and per token: two locks, held while a bot runs.

One lock is in the profile's data folder; the other, keyed by a hash of the bot token, is in a
per-user folder, so two profiles cannot log one Discord account in twice. Each lock is the
operating system's (flock on Unix, LockFileEx on Windows, through filelock), so the system lets
go of it when its holder dies, even by SIGKILL or a power cut: no stale lock is ever left to
remove by hand. A small JSON note beside it says who holds it, for the message the next one to
try sees; a note left by a dead holder is simply overwritten.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import socket
import sys
import tempfile
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import filelock
import platformdirs

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
    data_folder: str = ""  # of the holder's profile; notes written before it lack one

    def describe(self) -> str:
        started = datetime.fromisoformat(self.since).strftime("%Y-%m-%d %H:%M")
        name = FRONT_END_NAMES.get(self.front_end, "another Voxdesk")
        return f"{name} (pid {self.pid} on {self.host}, since {started})"


class _NotedLock(ABC):
    """An operating system lock on ``lock_file`` and, beside it, a note of who holds it."""

    place = "the data folder"  # where the lock file is, for the messages
    setting = "XDG_DATA_HOME"  # what moves that folder on Linux

    def __init__(self, lock_file: Path, front_end: FrontEnd, data_folder: Path) -> None:
        self.folder = lock_file.parent
        self.front_end = front_end
        self.data_folder = data_folder
        # Not thread-local: the lock is taken in a worker thread and given back in another.
        # No soft fallback: a marker file on a folder without locks could be left behind by a
        # crash, and two hosts sharing the folder could not tell whether its owner still runs.
        self._lock = filelock.FileLock(lock_file, thread_local=False,
                                       fallback_to_soft=False)  # fmt: skip
        self._note = lock_file.with_suffix(".json")

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
            raise self._refusal(self.holder()) from None
        except OSError as error:
            raise _not_lockable(f"{self.place} {self.folder}", self.setting, error) from None
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

    @abstractmethod
    def _refusal(self, holder: Holder | None) -> BotRunningElsewhere:
        """What the next one to try is told while ``holder`` has the lock."""

    def _write_note(self) -> None:
        holder = Holder(self.front_end, os.getpid(), socket.gethostname(),
                        datetime.now().astimezone().isoformat(timespec="seconds"),
                        str(self.data_folder))  # fmt: skip
        partial = self._note.with_name(f".{self._note.name}.{os.getpid()}")
        partial.write_text(json.dumps(asdict(holder)), encoding="utf-8")
        partial.replace(self._note)  # readers never see half a note


class BotLock(_NotedLock):
    """Held by the process that runs the bot of the profile whose data folder is ``folder``."""

    def __init__(self, folder: Path, front_end: FrontEnd) -> None:
        super().__init__(folder / "bot.lock", front_end, folder)

    def _refusal(self, holder: Holder | None) -> BotRunningElsewhere:
        where = holder.describe() if holder else "another Voxdesk process"
        return BotRunningElsewhere(
            f"The bot for this profile already runs in {where}.",
            hint="Stop it there first: one profile runs one bot, or Discord would get every "
            "answer twice.",
        )


class TokenLock(_NotedLock):
    """Held by the process whose bot logs in with ``token``, whatever its profile: two profiles
    with one token would be two bots on one Discord account. The lock is named by the token's
    SHA-256, so the token itself is never written anywhere."""

    place = "the lock folder"
    setting = "XDG_RUNTIME_DIR"

    def __init__(self, token: str, data_folder: Path, front_end: FrontEnd,
                 folder: Path | None = None) -> None:  # fmt: skip
        digest = hashlib.sha256(token.encode()).hexdigest()
        lock_file = (folder or token_lock_folder()) / f"bot-{digest}.lock"
        super().__init__(lock_file, front_end, data_folder)

    def _refusal(self, holder: Holder | None) -> BotRunningElsewhere:
        where = holder.describe() if holder else "another Voxdesk process"
        profile = holder.data_folder if holder and holder.data_folder else "another profile"
        return BotRunningElsewhere(
            f"This bot token already runs a bot in {where}, for the profile with the data "
            f"folder {profile}.",
            hint="Stop that bot first, or give this profile a bot token of its own: one token "
            "is one Discord account, and two bots on it would answer every message twice.",
        )


def token_lock_folder() -> Path:
    """The per-user folder of the token locks: the runtime folder, or the cache folder where
    there is none (Linux outside a login session has no XDG_RUNTIME_DIR, and platformdirs would
    guess a path and warn about it)."""
    if sys.platform not in ("win32", "darwin") and not os.environ.get("XDG_RUNTIME_DIR"):
        return platformdirs.user_cache_path("voxdesk")
    return platformdirs.user_runtime_path("voxdesk")


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


def _not_lockable(where: str, setting: str, error: OSError) -> ProfileNotLockable:
    reason = error.strerror or type(error).__name__
    if error.errno in READ_ONLY:
        return ProfileNotLockable(
            f"The bot cannot start: {where} is not writable ({reason}).",
            hint=f"Make it writable, or give Voxdesk a writable one ({setting} on Linux).",
        )
    return ProfileNotLockable(
        f"The bot cannot start: {where} cannot lock files ({reason}); a network share "
        "without locking could let two bots run where one should.",
        hint="Keep that folder on a local disk, or enable locking on the share.",
    )
