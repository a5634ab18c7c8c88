"""One bot per profile: real ``voxdesk bridge`` processes on the loopback Discord.

Two bots on one account answer every message twice and start every ``!train`` twice; the second
must refuse in one line, a killed one must not block the next, and two profiles must not block
each other unless they log in with the same token. The token's lock is user-wide: tests/conftest.py
gives each test a runtime folder (XDG_RUNTIME_DIR) of its own, which its processes share.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import platformdirs
import pytest

from tests.fakes.discord_server import OTHER_TOKEN, TOKEN, FakeDiscord

ROOT = Path(__file__).parents[1]
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM ends a process cleanly")
LOGGED_IN = "The bot has logged in"


def profile_env(home: Path, **extra: str) -> dict[str, str]:
    """A profile of its own: config and data folders under ``home``, the token in the env."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("VOXDESK_CONFIG", "OPENAI_API_KEY", "DISCORD_TOKEN")}  # fmt: skip
    return env | {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CACHE_HOME": str(platformdirs.user_cache_path()),  # the Whisper models, joined once
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "DISCORD_TOKEN": TOKEN,
        "PYTHONPATH": str(ROOT),
        **extra,
    }


@dataclass
class Voxdesk:
    """A real ``voxdesk`` process whose bot talks to the loopback Discord."""

    process: asyncio.subprocess.Process
    err: str = ""

    @classmethod
    async def start(cls, fake: FakeDiscord, home: Path, *args: str, **env: str) -> Voxdesk:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.fakes.loopback_voxdesk", fake.url, *args,
            cwd=ROOT, env=profile_env(home, **env),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return cls(process)

    async def wait_for_line(self, text: str, timeout: float = 60) -> None:
        assert self.process.stderr is not None
        async with asyncio.timeout(timeout):
            while text not in self.err:
                line = await self.process.stderr.readline()
                assert line, f"voxdesk ended before '{text}': {self.err}"
                self.err += line.decode()

    async def finish(self, timeout: float = 60) -> int:
        """Wait for the end; the exit status (everything it wrote is in ``err``)."""
        assert self.process.stderr is not None
        async with asyncio.timeout(timeout):
            self.err += (await self.process.stderr.read()).decode()
            return await self.process.wait()

    async def stop(self) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await self.finish()


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = await FakeDiscord().start()
    yield server
    await server.stop()


def holder(home: Path) -> dict[str, object]:
    note = home / "data" / "voxdesk" / "bot.json"
    loaded: dict[str, object] = json.loads(note.read_text(encoding="utf-8"))
    return loaded


def assert_refused_in_one_line(second: Voxdesk, code: int, *words: str) -> None:
    assert code == 1, second.err
    lines = second.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), second.err
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.slow
async def test_a_second_bridge_on_one_profile_refuses(fake: FakeDiscord, tmp_path: Path) -> None:
    first = await Voxdesk.start(fake, tmp_path, "bridge")
    await first.wait_for_line(LOGGED_IN)
    second = await Voxdesk.start(fake, tmp_path, "bridge")
    code = await second.finish()
    assert_refused_in_one_line(second, code, "already runs in `voxdesk bridge`",
                               f"pid {first.process.pid}")  # fmt: skip
    assert fake.identifies == 1  # the second never reached the gateway
    assert await first.stop() == 0, first.err


@pytest.mark.slow
async def test_a_killed_bridge_leaves_no_lock_behind(fake: FakeDiscord, tmp_path: Path) -> None:
    first = await Voxdesk.start(fake, tmp_path, "bridge")
    await first.wait_for_line(LOGGED_IN)
    first.process.kill()  # SIGKILL: no cleanup runs, the note of who holds the lock stays
    await first.process.wait()
    assert holder(tmp_path)["pid"] == first.process.pid
    second = await Voxdesk.start(fake, tmp_path, "bridge")
    await second.wait_for_line(LOGGED_IN)
    assert holder(tmp_path)["pid"] == second.process.pid
    assert await second.stop() == 0, second.err
    assert not (tmp_path / "data" / "voxdesk" / "bot.json").exists()  # a clean stop says so


@pytest.mark.slow
async def test_two_profiles_run_their_bots_side_by_side(fake: FakeDiscord, tmp_path: Path) -> None:
    bots = [await Voxdesk.start(fake, tmp_path / name, "bridge", DISCORD_TOKEN=token)
            for name, token in (("one", TOKEN), ("two", OTHER_TOKEN))]  # fmt: skip
    await asyncio.gather(*(bot.wait_for_line(LOGGED_IN) for bot in bots))
    assert [await bot.stop() for bot in bots] == [0, 0], [bot.err for bot in bots]


@pytest.mark.slow
async def test_two_profiles_with_one_token_run_one_bot(fake: FakeDiscord, tmp_path: Path) -> None:
    first = await Voxdesk.start(fake, tmp_path / "one", "bridge")
    await first.wait_for_line(LOGGED_IN)
    second = await Voxdesk.start(fake, tmp_path / "two", "bridge")
    code = await second.finish()
    assert_refused_in_one_line(second, code, "This bot token already runs a bot in `voxdesk "
                               f"bridge` (pid {first.process.pid} on ",
                               f"the data folder {tmp_path / 'one' / 'data' / 'voxdesk'}.",
                               "a bot token of its own")  # fmt: skip
    assert TOKEN not in second.err
    assert fake.identifies == 1  # the second never reached the gateway
    assert not (tmp_path / "two" / "data" / "voxdesk" / "bot.json").exists()  # nor kept its lock
    assert await first.stop() == 0, first.err
    third = await Voxdesk.start(fake, tmp_path / "two", "bridge")  # the token is free again
    await third.wait_for_line(LOGGED_IN)
    assert await third.stop() == 0, third.err


@pytest.mark.slow
async def test_the_bridge_refuses_while_the_window_runs_the_bot(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    window = await Voxdesk.start(fake, tmp_path, QT_QPA_PLATFORM="offscreen")
    note = tmp_path / "data" / "voxdesk" / "bot.json"
    async with asyncio.timeout(60):
        while not note.exists():  # polling for the window's bot to take the lock
            assert window.process.returncode is None, await window.finish()
            await asyncio.sleep(0.1)
    bridge = await Voxdesk.start(fake, tmp_path, "bridge")
    code = await bridge.finish()
    assert_refused_in_one_line(bridge, code, "already runs in the Voxdesk window",
                               f"pid {window.process.pid}")  # fmt: skip
    assert await window.stop() == 0, window.err


@pytest.mark.slow
async def test_a_read_only_data_folder_is_one_line(
    fake: FakeDiscord, tmp_path: Path, read_only_folder: Path
) -> None:
    bridge = await Voxdesk.start(fake, tmp_path, "bridge", XDG_DATA_HOME=str(read_only_folder))
    code = await bridge.finish()
    assert_refused_in_one_line(bridge, code, "not writable", str(read_only_folder))
    assert fake.identifies == 0
