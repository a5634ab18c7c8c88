"""The real voxdesk process on a virtual screen: it opens its window and quits cleanly.

Each way a user or the system ends the app (Ctrl+Q, closing the window, SIGTERM) must end it
with status 0 and nothing on stderr: the shutdown once ended in "Event loop stopped before
Future completed" and status 1.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

VOXDESK = Path(sys.executable).with_name("voxdesk")


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    assert shutil.which("Xvfb"), "Xvfb is missing: `make test` installs it (Debian's xvfb)"
    read, write = os.pipe()
    # -noreset: by default Xvfb resets when its last client leaves and refuses whoever connects
    # meanwhile; each xdotool poll was that last client while the app was still starting.
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-noreset",
                             "-screen", "0", "1280x800x24"],
                            pass_fds=[write], stderr=subprocess.DEVNULL)  # fmt: skip
    os.close(write)
    with os.fdopen(read) as chosen:
        number = chosen.readline().strip()  # Xvfb writes it once it accepts clients
    yield f":{number}"
    xvfb.terminate()
    xvfb.wait()


def start_voxdesk(display: str, home: Path) -> tuple[subprocess.Popen[str], str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("DISCORD_TOKEN", "OPENAI_API_KEY", "QT_QPA_PLATFORM")}  # fmt: skip
    env |= {"DISPLAY": display, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"), "XDG_CACHE_HOME": str(home / "cache"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}  # fmt: skip
    process = subprocess.Popen([str(VOXDESK)], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    return process, wait_for_window(display, process)


def wait_for_window(display: str, process: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        search = ["xdotool", "search", "--onlyvisible", "--name", "^Voxdesk"]
        found = subprocess.run(search, env={"DISPLAY": display}, capture_output=True, text=True)
        if found.stdout.split():
            return found.stdout.split()[0]
        time.sleep(0.2)  # polling for the window to be mapped, not waiting for an outcome
    pytest.fail("the window never appeared")


def press_ctrl_q(display: str, window: str, process: subprocess.Popen[str]) -> None:
    env = {"DISPLAY": display}
    subprocess.run(["xdotool", "windowfocus", "--sync", window], env=env, check=True)
    subprocess.run(["xdotool", "key", "--clearmodifiers", "ctrl+q"], env=env, check=True)


def close_like_a_window_manager(display: str, window: str, process: subprocess.Popen[str]) -> None:
    from Xlib import X, protocol
    from Xlib.display import Display

    screen = Display(display)
    target = screen.create_resource_object("window", int(window))
    delete = screen.intern_atom("WM_DELETE_WINDOW")
    message = protocol.event.ClientMessage(
        window=target, client_type=screen.intern_atom("WM_PROTOCOLS"),
        data=(32, [delete, X.CurrentTime, 0, 0, 0]),
    )  # fmt: skip
    target.send_event(message, event_mask=X.NoEventMask)
    screen.sync()
    screen.close()


def send_sigterm(display: str, window: str, process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)


@pytest.mark.slow
@pytest.mark.parametrize("quit_app", [press_ctrl_q, close_like_a_window_manager, send_sigterm])
def test_the_app_quits_cleanly(
    display: str, tmp_path: Path, quit_app: Callable[[str, str, subprocess.Popen[str]], None]
) -> None:
    process, window = start_voxdesk(display, tmp_path)
    quit_app(display, window, process)
    try:
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert (process.returncode, err) == (0, "")
    # the window remembered where it was, which only a real close does
    assert (tmp_path / "config" / "Voxdesk" / "Voxdesk.conf").is_file()


STARTED_APP = """
import time; started = time.perf_counter()
import gc, os, resource, signal, sys
from pathlib import Path
from PySide6.QtCore import QTimer
from voxdesk.core.config import SecretStore, Settings
from voxdesk.desktop.app import create_application, run_app

def report(deadline=time.monotonic() + 30):
    if not gc.get_freeze_count() and time.monotonic() < deadline:
        QTimer.singleShot(5, report)  # start-up is still under way
        return
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    seconds = time.perf_counter() - started
    print(gc.get_freeze_count(), seconds, rss, "openai" in sys.modules, flush=True)
    os.kill(os.getpid(), signal.SIGTERM)  # ends the app as the system would

create_application()
QTimer.singleShot(0, report)
run_app(Settings(), SecretStore(dict(a.split("=", 1) for a in sys.argv[2:])), Path(sys.argv[1]))
"""


@dataclass(frozen=True)
class StartedApp:
    """What the real app (run_app, offscreen, no token) reported once it had started."""

    frozen: int  # objects kept out of garbage collections
    seconds: float  # from the interpreter's first line to the started window
    peak_rss_mb: float
    openai_imported: bool


def start_app_offscreen(folder: Path, secrets: Sequence[str] = ()) -> StartedApp:
    """Start the app in a new interpreter; it reports once started, then is ended by SIGTERM.
    ``secrets`` are NAME=value, as the environment would give them (by default none)."""
    run = run_offscreen(STARTED_APP, folder, *secrets)
    assert run.returncode == 0, run.stderr  # (offscreen Qt warns of size hints on stderr)
    frozen, seconds, rss, openai_imported = run.stdout.split()
    return StartedApp(int(frozen), float(seconds), float(rss), openai_imported == "True")


def run_offscreen(script: str, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` (which starts the app) offscreen in a new interpreter, with ``folder`` as
    its home and no token or key from this environment; its arguments are the settings file in
    ``folder``, then ``args``."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("DISCORD_TOKEN", "OPENAI_API_KEY")}  # fmt: skip
    env |= {"QT_QPA_PLATFORM": "offscreen", "HOME": str(folder),
            "XDG_DATA_HOME": str(folder / "data"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}  # fmt: skip
    command = [sys.executable, "-c", script, str(folder / "settings.toml"), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def started_app(tmp_path_factory: pytest.TempPathFactory) -> StartedApp:
    return start_app_offscreen(tmp_path_factory.mktemp("started"))


def test_the_app_freezes_its_start_up_objects(started_app: StartedApp) -> None:
    """Once the window and the bot are up, what is alive is kept out of garbage collections:
    a full one walked all of it (some 160,000 objects) and froze the window for 80-90 ms."""
    assert started_app.frozen > 10_000  # the imports' modules, classes and functions at least


def test_the_app_starts_without_the_openai_sdk(started_app: StartedApp) -> None:
    """Importing the OpenAI SDK takes some 0.6 s; the window started in 2.2 s with it, 1.05
    without. Nothing at start-up needs it while no key is set; it is imported on first use."""
    assert not started_app.openai_imported


def test_the_bots_modules_do_not_import_the_openai_sdk() -> None:
    """The window starts the bot when a token is set: its modules took the SDK's 0.6 s of
    imports on the window's loop (through the assistant's types), key or no key."""
    code = "import sys, voxdesk.bridge.runner; print('openai' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == "False", run.stderr


OPENAI_AHEAD = """
import os, signal, sys, time
from pathlib import Path
from PySide6.QtCore import QTimer
from voxdesk.core.config import SecretStore, Settings
from voxdesk.desktop.app import create_application, run_app

def report(deadline=time.monotonic() + 30):
    if "openai" not in sys.modules and time.monotonic() < deadline:
        QTimer.singleShot(20, report)  # not imported yet
        return
    print("openai" in sys.modules, flush=True)
    os.kill(os.getpid(), signal.SIGTERM)

create_application()
QTimer.singleShot(0, report)
run_app(Settings(), SecretStore({"OPENAI_API_KEY": "sk-test-ahead"}), Path(sys.argv[1]))
"""


def test_with_a_key_the_app_imports_the_openai_sdk_once_started(tmp_path: Path) -> None:
    """Left out of start-up, the SDK would be imported by the first request, on the event
    loop: the window froze 0.6 s at its first question. With a key it is imported in a worker
    thread once the window is up, before anyone asks."""
    run = run_offscreen(OPENAI_AHEAD, tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "True"


SHOWN_WITH_TABLES = """
import os, signal, sys
from pathlib import Path
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
import toktok
from voxdesk.core.config import SecretStore, Settings
from voxdesk.desktop.app import create_application, run_app

def report():
    if not any(window.isVisible() for window in QApplication.topLevelWidgets()):
        QTimer.singleShot(5, report)
        return
    print(sorted(name for name, _ in toktok._CACHE), flush=True)  # the tables loaded so far
    os.kill(os.getpid(), signal.SIGTERM)

create_application()
QTimer.singleShot(0, report)
run_app(Settings(), SecretStore(dict(arg.split("=") for arg in sys.argv[2:])), Path(sys.argv[1]))
"""


@pytest.mark.parametrize(
    ("secrets", "tables"), [((), "[]"), (("OPENAI_API_KEY=sk-t",), "['o200k_base']")]
)
def test_with_a_key_the_token_table_is_loaded_before_the_window_shows(
    tmp_path: Path, secrets: tuple[str, ...], tables: str
) -> None:
    """Loading the assistant's token table holds the GIL some 0.5 s, so a worker thread would
    not spare the window: loaded by the first answer, it froze the window then. With a key, the
    window shows with it loaded; without one, start-up does not pay for it."""
    run = run_offscreen(SHOWN_WITH_TABLES, tmp_path, *secrets)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == tables  # the default model, gpt-4o-mini, counts in o200k_base
