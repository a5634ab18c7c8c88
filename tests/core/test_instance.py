"""The bot's lock: one holder per data folder, none left behind by a death, clear refusals."""

from __future__ import annotations

import errno
import json
import os
import sys
from pathlib import Path

import pytest

from voxdesk.core.errors import user_message
from voxdesk.core.instance import (
    BotLock,
    BotRunningElsewhere,
    DataFolderUnwritable,
    ProfileNotLockable,
    TokenLock,
    check_data_folder,
    token_lock_folder,
)

TOKEN = "MTAxMDEwMTAxMDEwMTAxMDEw.Gvoxdx.a-token-for-the-lock-tests"


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


def test_one_token_runs_one_bot_whatever_the_profile(tmp_path: Path) -> None:
    one, two, locks = tmp_path / "one" / "data", tmp_path / "two" / "data", tmp_path / "run"
    first = TokenLock(TOKEN, one, "bridge", locks)
    first.acquire()
    with pytest.raises(BotRunningElsewhere) as refused:
        TokenLock(TOKEN, two, "window", locks).acquire()
    message = user_message(refused.value)
    assert f"already runs a bot in `voxdesk bridge` (pid {os.getpid()} on " in message
    assert f"for the profile with the data folder {one}." in message
    assert "a bot token of its own" in message
    other = TokenLock(TOKEN.replace("a-token", "another-token"), two, "window", locks)
    other.acquire()  # another bot account: another lock
    # The folder names each token by its hash only: the token is a password to the account.
    assert all(TOKEN not in path.name and TOKEN not in path.read_text() for path in locks.iterdir())
    assert len(list(locks.glob("bot-*.lock"))) == 2
    first.release()
    second = TokenLock(TOKEN, two, "window", locks)
    second.acquire()  # released: the other profile gets it
    holder = second.holder()
    assert holder is not None and holder.data_folder == str(two)
    second.release()
    other.release()


def test_the_token_locks_are_in_the_runtime_folder_or_else_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if sys.platform in ("win32", "darwin"):
        pytest.skip("XDG_RUNTIME_DIR is how Linux and the BSDs name the runtime folder")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert token_lock_folder() == tmp_path / "voxdesk"
    monkeypatch.delenv("XDG_RUNTIME_DIR")  # no login session: no runtime folder
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert token_lock_folder() == tmp_path / "cache" / "voxdesk"


def test_a_token_lock_folder_that_cannot_be_written_refuses_the_bot(
    read_only_folder: Path,
) -> None:
    lock = TokenLock(TOKEN, read_only_folder.parent, "bridge", read_only_folder / "voxdesk")
    with pytest.raises(ProfileNotLockable) as refused:
        lock.acquire()
    message = user_message(refused.value)
    assert f"the lock folder {read_only_folder / 'voxdesk'} is not writable" in message
    assert "XDG_RUNTIME_DIR" in message
