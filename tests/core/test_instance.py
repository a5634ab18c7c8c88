"""The bot's lock: one holder per data folder, none left behind by a death, clear refusals."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from voxdesk.core.errors import user_message
from voxdesk.core.instance import (
    BotLock,
    BotRunningElsewhere,
    DataFolderUnwritable,
    ProfileNotLockable,
    check_data_folder,
)


def test_one_holder_at_a_time_and_the_refusal_names_it(tmp_path: Path) -> None:
    window = BotLock(tmp_path, "window")
    window.acquire()
    with pytest.raises(BotRunningElsewhere) as refused:
        BotLock(tmp_path, "bridge").acquire()
    message = user_message(refused.value)
    assert f"already runs in the Voxdesk window (pid {os.getpid()} on " in message
    assert "Stop it there first" in message
    window.release()
    bridge = BotLock(tmp_path, "bridge")
    bridge.acquire()  # released: the next one gets it
    holder = bridge.holder()
    assert holder is not None and (holder.front_end, holder.pid) == ("bridge", os.getpid())
    bridge.release()
    assert not (tmp_path / "bot.json").exists()


def test_a_note_left_by_a_dead_holder_is_overwritten(tmp_path: Path) -> None:
    note = {
        "front_end": "bridge",
        "pid": 2**22 + 1,
        "host": "gone",
        "since": "2026-01-01T00:00:00+00:00",
    }
    (tmp_path / "bot.json").write_text(json.dumps(note))
    (tmp_path / "bot.lock").write_text("")  # the lock file of a process that was killed
    lock = BotLock(tmp_path, "window")
    lock.acquire()
    holder = lock.holder()
    assert holder is not None and holder.pid == os.getpid()
    lock.release()


@pytest.mark.parametrize("code", [errno.ENOLCK, errno.ENOSYS])
def test_a_folder_without_locks_refuses_the_bot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    """A network share without locking: flock fails with ENOLCK (NFS without lockd) or ENOSYS.
    A marker file instead could be left behind by a crash, or held by another host: no bot."""

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(code, os.strerror(code))

    fcntl = pytest.importorskip("fcntl")  # Windows locks with LockFileEx, which SMB supports
    monkeypatch.setattr(fcntl, "flock", no_locks)
    lock = BotLock(tmp_path, "bridge")
    with pytest.raises(ProfileNotLockable) as refused:
        lock.acquire()
    assert not lock.held
    message = user_message(refused.value)
    assert f"the data folder {tmp_path} cannot lock files" in message
    assert "local disk" in message


def test_a_read_only_data_folder_refuses_the_bot(read_only_folder: Path) -> None:
    lock = BotLock(read_only_folder / "voxdesk", "window")
    with pytest.raises(ProfileNotLockable) as refused:
        lock.acquire()
    assert "is not writable" in user_message(refused.value)
    with pytest.raises(DataFolderUnwritable):
        check_data_folder(read_only_folder / "voxdesk")
    check_data_folder(read_only_folder.parent / "writable")  # made, and written in
