"""What would work on Linux and break on Windows or macOS, checked here on Linux."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import types
from pathlib import Path

import pytest

from voxdesk.core.training import database


def windows_kill(pid: int, signum: int) -> None:
    """os.kill as on Windows, where any signal but the two console events is TerminateProcess."""
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)  # gone before the caller looks (the test's child, so it can be reaped)


def test_asking_whether_an_importer_lives_does_not_end_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    importer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        monkeypatch.setattr(database, "os", types.SimpleNamespace(kill=windows_kill))
        connection = sqlite3.connect(":memory:")
        connection.row_factory = sqlite3.Row
        connection.execute("CREATE TABLE imports (id INTEGER PRIMARY KEY, state TEXT, pid INT)")
        connection.execute("INSERT INTO imports (state, pid) VALUES ('running', ?)", [importer.pid])
        database.mark_interrupted_imports(connection)
        assert importer.poll() is None, "the check ended the importing process"
        assert connection.execute("SELECT state FROM imports").fetchone()[0] == "running"
    finally:
        importer.kill()
        importer.wait()


def test_a_model_folders_config_is_read_as_utf8(tmp_path: Path) -> None:
    """Without an encoding, Windows reads text files in its ANSI code page, not UTF-8."""
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "config.json").write_text('{"vocab_size": 51864}', "utf-8")
    code = (
        "import sys; from pathlib import Path; from voxdesk.core.stt import whisper_models as w;"
        "assert w._is_english_only(Path(sys.argv[1]))"
    )
    # Python warns of every text file opened with the platform's default encoding.
    flags = ("-X", "warn_default_encoding", "-W", "error::EncodingWarning")
    done = subprocess.run(
        [sys.executable, *flags, "-c", code, str(tmp_path / "tiny")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
