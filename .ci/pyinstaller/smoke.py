"""Smoke test of the app bundle, as a new user would try it, on a fresh profile.

    python .ci/pyinstaller/smoke.py dist/voxdesk [--window-executable .venv/bin/voxdesk]

The command line, from an empty folder: ``--help``, ``transcribe`` on a recording, ``dataset
validate`` on a small file and on one big enough for worker processes; any stderr fails it.
The window, on every platform: ``Voxdesk open RECORDING`` shows the transcript in the window's
history, and the window asked to close by the system (WM_CLOSE on Windows, SIGTERM elsewhere)
ends with status 0. On Linux, first, on a virtual screen (Xvfb, xdotool): the window opens (the
cold start is printed), Ctrl+O's dialog is given the recording, its transcript appears, Ctrl+Q
quits with status 0. Exit status 1 on any failure."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).parents[2]
RECORDING = ROOT / "tests" / "data" / "corpus" / "deepspeech_new_home_in_the_stars.wav"
SAID = "new home in the stars"
EXAMPLE = {
    "messages": [
        {"role": "user", "content": "Two plus two?"},
        {"role": "assistant", "content": "Four."},
    ]
}
TIMEOUT = 180.0
BIG_FILE_BYTES = 50 << 20


class SmokeFailure(Exception):
    pass


def profile_env(home: Path) -> dict[str, str]:
    """A new user's profile in ``home``: no settings, history, cache, keyring or secrets."""
    dropped = ("DISCORD_TOKEN", "OPENAI_API_KEY", "QT_QPA_PLATFORM", "PYTHONPATH")
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    env |= {"HOME": str(home), "USERPROFILE": str(home), "APPDATA": str(home / "roaming"),
            "LOCALAPPDATA": str(home / "local"), "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"), "XDG_CACHE_HOME": str(home / "cache"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}  # fmt: skip
    return env


def check_command_line(cli: Path, home: Path) -> None:
    env, work = profile_env(home), home / "work"
    work.mkdir(parents=True)
    line = json.dumps(EXAMPLE) + "\n"
    (work / "chats.jsonl").write_text(line, encoding="utf-8")
    # Over 48 MB the validator spawns a worker per core: each starts the frozen executable
    # again, which must become a worker (multiprocessing.freeze_support), not a second app.
    big = BIG_FILE_BYTES // len(line) + 1
    (work / "big.jsonl").write_text(line * big, encoding="utf-8")
    for args, expected in (
        (["--help"], "transcribe"),
        (["transcribe", str(RECORDING)], SAID),
        (["dataset", "validate", "chats.jsonl", "--json"], '"examples": 1,'),
        (["dataset", "validate", "big.jsonl", "--json"], f'"examples": {big},'),
    ):
        command = f"voxdesk-cli {' '.join(args)}"
        done = subprocess.run(
            [str(cli), *args], cwd=work, env=env, capture_output=True, text=True,
            encoding="utf-8", timeout=TIMEOUT,
        )  # fmt: skip
        if expected not in done.stdout.lower():
            output = f"{done.stdout}\n{done.stderr}"
            raise SmokeFailure(
                f"{command} (status {done.returncode}) printed no {expected!r}:\n{output}"
            )
        if done.stderr:  # a warning too: a failed worker, say, that the app worked around
            raise SmokeFailure(f"{command} wrote to stderr:\n{done.stderr}")
        print(f"ok: {command}")


@contextmanager
def virtual_screen() -> Iterator[str]:
    read, write = os.pipe()
    # -noreset: by default Xvfb resets when its last client leaves and refuses whoever connects
    # meanwhile; each xdotool poll was that last client while the app was still starting.
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-noreset",
                             "-screen", "0", "1280x800x24"],
                            pass_fds=[write], stderr=subprocess.DEVNULL)  # fmt: skip
    os.close(write)
    with os.fdopen(read) as chosen:
        number = chosen.readline().strip()  # written once Xvfb accepts clients
    try:
        yield f":{number}"
    finally:
        xvfb.terminate()
        xvfb.wait()


def xdotool(display: str, *args: str) -> str:
    done = subprocess.run(["xdotool", *args], env={"DISPLAY": display}, capture_output=True,
                          text=True, timeout=TIMEOUT)  # fmt: skip
    return done.stdout.strip()


def find_window(display: str, title: str) -> str:
    """The id of a visible window whose title matches, or ''."""
    found = xdotool(display, "search", "--onlyvisible", "--name", title).split()
    return found[0] if found else ""


def wait_for(what: str, probe: Callable[[], str | bool], process: subprocess.Popen[str]) -> str:
    """Poll until ``probe()`` is truthy; the app ending or the timeout fails the test."""
    deadline = time.monotonic() + TIMEOUT
    while not (found := probe()):
        if process.poll() is not None:
            output = process.communicate()
            raise SmokeFailure(f"the app ended ({process.returncode}) before the {what}: {output}")
        if time.monotonic() > deadline:
            raise SmokeFailure(f"no {what} after {TIMEOUT:.0f} s")
        time.sleep(0.1)  # polling an outside process; the timeout above decides failure
    return str(found)


def history_file(env: dict[str, str]) -> Path:
    """Where the window keeps its transcripts for this profile, as platformdirs puts it."""
    code = "import platformdirs; print(platformdirs.user_data_path('voxdesk'))"
    found = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    return Path(found.stdout.strip()) / "transcripts.json"


def transcribed(history: Path) -> bool:
    return history.is_file() and SAID in history.read_text("utf-8").lower()


def check_window(executable: Path, home: Path, display: str) -> None:
    """Open the recording with Ctrl+O's dialog, see its transcript, quit with Ctrl+Q."""
    env = profile_env(home) | {"DISPLAY": display}
    history = history_file(env)
    started = time.monotonic()
    process = subprocess.Popen(
        [str(executable)], env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        window = wait_for("window", lambda: find_window(display, "^Voxdesk$"), process)
        print(f"ok: the window appeared after {time.monotonic() - started:.2f} s (cold start)")
        xdotool(display, "windowfocus", "--sync", window)
        xdotool(display, "key", "--clearmodifiers", "ctrl+o")
        dialog = wait_for(
            "file dialog", lambda: find_window(display, "Transcribe audio files"), process
        )
        xdotool(display, "windowfocus", "--sync", dialog)
        xdotool(display, "type", "--delay", "2", str(RECORDING))
        xdotool(display, "key", "Return")
        wait_for("transcript in the window's history", lambda: transcribed(history), process)
        print("ok: the window transcribed the file opened with Ctrl+O")
        xdotool(display, "windowfocus", "--sync", window)
        xdotool(display, "key", "--clearmodifiers", "ctrl+q")
        _, err = process.communicate(timeout=TIMEOUT)
    finally:
        process.kill()
    if process.returncode != 0:
        raise SmokeFailure(f"Ctrl+Q ended the window with status {process.returncode}: {err}")
    print("ok: Ctrl+Q quit with status 0")


def check_opened_file(executable: Path, home: Path, display: dict[str, str]) -> None:
    """``Voxdesk open FILE``, as a file manager's Open With does; then the system closes it."""
    env = profile_env(home) | display
    history = history_file(env)
    started = time.monotonic()
    process = subprocess.Popen(
        [str(executable), "open", str(RECORDING)], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_for("transcript in the window's history", lambda: transcribed(history), process)
        print(f"ok: 'open FILE' showed its transcript after {time.monotonic() - started:.2f} s")
        if os.name == "nt":  # WM_CLOSE to the window, as closing it does
            subprocess.run(["taskkill", "/PID", str(process.pid)], check=True, timeout=TIMEOUT)
        else:  # SIGTERM, as a logout or `kill` sends
            process.terminate()
        _, err = process.communicate(timeout=TIMEOUT)
    finally:
        process.kill()
    if process.returncode != 0:
        raise SmokeFailure(f"asked to close, the window ended with {process.returncode}: {err}")
    print("ok: asked to close by the system, the window quit with status 0")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="the bundle's folder (dist/voxdesk)")
    parser.add_argument(
        "--window-executable", type=Path, help="drive this one's window instead (to compare)"
    )
    args = parser.parse_args()
    bundle = args.bundle.resolve()  # the commands run from a folder of their own
    suffix = ".exe" if os.name == "nt" else ""
    window = args.window_executable or bundle / f"Voxdesk{suffix}"
    try:
        with tempfile.TemporaryDirectory(prefix="voxdesk-smoke-") as folder:
            home = Path(folder)
            if args.window_executable is None:
                check_command_line(bundle / f"voxdesk-cli{suffix}", home / "cli")
            if not sys.platform.startswith("linux"):
                check_opened_file(window, home / "open", {})
            elif shutil.which("Xvfb") and shutil.which("xdotool"):
                with virtual_screen() as display:
                    check_window(window, home / "window", display)
                    check_opened_file(window, home / "open", {"DISPLAY": display})
            else:
                raise SmokeFailure("the window needs Xvfb and xdotool here: make system-deps")
    except (SmokeFailure, subprocess.TimeoutExpired) as failure:
        print(f"FAIL: {failure}", file=sys.stderr)
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
