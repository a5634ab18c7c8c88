"""One window per profile: a second launch brings the first window forward with its files, and a
window whose profile's bot runs elsewhere says so instead of starting a second bot."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from discord.http import Route
from pytestqt.qtbot import QtBot

from tests.conftest import clip
from tests.fakes.discord_server import TOKEN
from tests.test_one_bot import ROOT, profile_env
from voxdesk.core.config import SecretStore, Settings
from voxdesk.core.services import Services
from voxdesk.desktop.instance import WindowInstance, _files_in
from voxdesk.desktop.window import MainWindow

VOXDESK = str(Path(sys.executable).parent / "voxdesk")


def transcribed(home: Path) -> list[str]:
    history = home / "data" / "voxdesk" / "transcripts.json"
    if not history.exists():
        return []
    return [entry["source"] for entry in json.loads(history.read_text(encoding="utf-8"))]


def wait_until_transcribed(home: Path, name: str, window: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while name not in transcribed(home):
        assert window.poll() is None, window.communicate()
        assert time.monotonic() < deadline, f"{name} was never transcribed"
        time.sleep(0.2)  # polling the window's history file for the transcript


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM ends a process cleanly")
def test_a_second_launch_hands_its_files_to_the_open_window(tmp_path: Path) -> None:
    env = profile_env(tmp_path, QT_QPA_PLATFORM="offscreen")
    del env["DISCORD_TOKEN"]
    first_clip = clip("deepspeech_new_home_in_the_stars.wav").path
    second_clip = clip("speechrec_english.wav").path
    window = subprocess.Popen([VOXDESK, "open", str(first_clip)], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        wait_until_transcribed(tmp_path, first_clip.name, window)  # it listens by then
        second = subprocess.run([VOXDESK, "open", str(second_clip)], env=env, text=True,
                                capture_output=True, timeout=60)  # fmt: skip
        assert second.returncode == 0, second.stderr
        assert second.stderr.strip() == ("Voxdesk is open already on this profile: its window "
                                         "came forward, with 1 file(s) to transcribe.")  # fmt: skip
        wait_until_transcribed(tmp_path, second_clip.name, window)
        assert transcribed(tmp_path) == [second_clip.name, first_clip.name]  # newest first
    finally:
        window.terminate()
        window.communicate(timeout=60)
    assert window.returncode == 0


def test_a_second_launch_with_a_missing_file_is_one_line(tmp_path: Path) -> None:
    env = profile_env(tmp_path, QT_QPA_PLATFORM="offscreen")
    run = subprocess.run([VOXDESK, "open", str(tmp_path / "nothing.ogg")], env=env, text=True,
                         capture_output=True, timeout=60)  # fmt: skip
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [f"error: No such file: {tmp_path / 'nothing.ogg'}. "
                                               "Check the path and try again."]  # fmt: skip


def test_a_read_only_data_folder_is_one_line_and_no_window(
    tmp_path: Path, read_only_folder: Path
) -> None:
    """The window would lose every transcript and dataset change made in it: it does not open."""
    env = profile_env(tmp_path, QT_QPA_PLATFORM="offscreen", XDG_DATA_HOME=str(read_only_folder))
    run = subprocess.run([VOXDESK], env=env, text=True, capture_output=True, timeout=60)
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: The data folder "), run.stderr
    assert f"{read_only_folder / 'voxdesk'} is not writable" in lines[0]


def test_the_window_comes_forward_and_queues_files_while_work_is_under_way(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services
) -> None:
    window = MainWindow(services)
    qtbot.addWidget(window)
    window.show_page(window.settings_page)
    window.showMinimized()
    busy = asyncio.Event()
    handed_over = [Path("/a.ogg"), Path("/b.ogg")]

    async def hand_over() -> None:  # as the instance server does, on the running loop
        window.record.start(busy.wait())  # a recording under way
        window.bring_forward(handed_over)

    qloop.run_until_complete(hand_over())
    assert not window.isMinimized() and window.isVisible()
    assert window.pages.currentWidget() is window.record
    # not refused as busy: in the queue at once, beside the work under way
    assert [job.path for job in window.record.queue.jobs] == handed_over
    busy.set()
    qloop.run_until_complete(window.shutdown())


LAUNCH = """
import sys
from pathlib import Path
from PySide6.QtCore import QCoreApplication
from voxdesk.desktop.instance import WindowInstance
app = QCoreApplication([])
print(WindowInstance(Path(sys.argv[1])).claim_or_hand_over([Path(f) for f in sys.argv[2:]]))
"""


def launch(folder: Path, *files: Path) -> subprocess.Popen[str]:
    """A launch in a process of its own; it prints True if it is the first window."""
    return subprocess.Popen([sys.executable, "-c", LAUNCH, str(folder), *map(str, files)],
                            cwd=ROOT, text=True, stdout=subprocess.PIPE)  # fmt: skip


def decided(qtbot: QtBot, process: subprocess.Popen[str]) -> str:
    qtbot.waitUntil(lambda: process.poll() is not None, timeout=30_000)  # Qt's loop answers it
    out, _ = process.communicate()
    return out.strip()


@pytest.mark.slow
def test_a_launch_hands_over_to_the_first_and_opens_its_own_once_the_first_closes(
    qapp: object, qtbot: QtBot, tmp_path: Path
) -> None:
    first = WindowInstance(tmp_path)
    assert first.claim_or_hand_over([])
    handed: list[list[Path]] = []
    first.listen(handed.append)
    assert decided(qtbot, launch(tmp_path, tmp_path / "a.ogg")) == "False"
    assert handed == [[tmp_path / "a.ogg"]]
    first.stop_listening()  # the window is closing: what it was handed now would be lost
    closing = launch(tmp_path, tmp_path / "b.ogg")
    qtbot.wait(1000)  # the launch starts and finds the window no longer listening
    assert closing.poll() is None  # it waits for the window to end
    first.close()
    assert decided(qtbot, closing) == "True"  # and then opens its own
    assert handed == [[tmp_path / "a.ogg"]]


def test_a_malformed_hand_over_raises_the_window_with_no_files() -> None:
    assert _files_in(b'{"files": ["/a.ogg", 3]}\n') == [Path("/a.ogg")]
    assert _files_in(b"nonsense\n") == _files_in(b'{"files": "/a.ogg"}\n') == []


def test_the_window_says_the_bot_runs_elsewhere(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Another process holds this profile's bot lock, as `voxdesk bridge` does while it runs."""
    # Were the lock ignored, the bot would reach for Discord: a closed port, never the internet.
    monkeypatch.setattr(Route, "BASE", "http://127.0.0.1:9/api/v10")
    services = Services(Settings(), SecretStore({"DISCORD_TOKEN": TOKEN}),
                        settings_path=tmp_path / "settings.toml")  # fmt: skip
    holding = ("from voxdesk.core.instance import BotLock; import pathlib, sys; "
               "lock = BotLock(pathlib.Path(sys.argv[1]), 'bridge'); lock.acquire(); "
               "print('held', flush=True); sys.stdin.read()")  # fmt: skip
    folder = services.database.path.parent
    other = subprocess.Popen([sys.executable, "-c", holding, str(folder)], cwd=ROOT, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # fmt: skip
    try:
        assert other.stdout is not None and other.stdout.readline() == "held\n"
        window = MainWindow(services)
        qtbot.addWidget(window)
        qloop.run_until_complete(window.start())
        assert window.bridge_state.text() == "Discord: running elsewhere", (
            window.bridge_state.toolTip()
        )
        message = window.statusBar().currentMessage()
        assert f"already runs in `voxdesk bridge` (pid {other.pid} on " in message
        assert message in window.discord.banner.text()  # not "store the token and it starts"
        qloop.run_until_complete(window.shutdown())
    finally:
        other.communicate("", timeout=30)
    qloop.run_until_complete(services.close())
