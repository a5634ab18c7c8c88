"""`voxdesk bridge` tells a new operator what it does not do by itself."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.fakes.discord_server import FakeDiscord
from tests.test_one_bot import LOGGED_IN, Voxdesk, fake  # noqa: F401  # fake: a fixture

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM ends a process cleanly")
UNREGISTERED = "does not register its slash commands and menus"


async def test_a_bot_that_registers_no_slash_command_says_so(
    fake: FakeDiscord,  # noqa: F811
    tmp_path: Path,
) -> None:
    """With discord.sync_commands off, the slash commands the README lists stay unseen."""
    told = await Voxdesk.start(fake, tmp_path / "a", "bridge",
                               VOXDESK_DISCORD__SYNC_COMMANDS="false")  # fmt: skip
    await told.wait_for_line(UNREGISTERED)
    assert await told.stop() == 0 and "discord.sync_commands true" in told.err
    assert not [e for e in fake.exchanges if e.method == "PUT"]
    default = await Voxdesk.start(fake, tmp_path / "b", "bridge")
    await default.wait_for_line(LOGGED_IN)
    assert await default.stop() == 0 and UNREGISTERED not in default.err
    assert [e for e in fake.exchanges if e.method == "PUT"]  # registered
