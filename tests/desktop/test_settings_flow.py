"""Settings changed anywhere reach the window; a Discord token stored there starts the bot."""

from __future__ import annotations

import asyncio
import codecs
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit
from pytestqt.qtbot import QtBot

from tests.conftest import MemoryKeyring
from tests.fakes.discord_server import TOKEN, FakeDiscord
from voxdesk.core.config import Secret, Settings, SettingsStore
from voxdesk.core.events import BridgeStateChanged, Subscription
from voxdesk.core.services import Services
from voxdesk.desktop.window import MainWindow


async def until(condition: Callable[[], bool]) -> None:
    """Let the loop run the window's listeners until ``condition`` holds (a widget's state:
    nothing to await)."""
    async with asyncio.timeout(30):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def test_the_offline_banner_names_the_settings_pages_real_shortcut(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services
) -> None:
    window = MainWindow(services)
    qtbot.addWidget(window)
    with qtbot.waitActive(window):
        window.show()
        window.activateWindow()
    banner = window.discord.banner.text()
    assert "Settings</a> (Ctrl+5)" in banner and "restart" not in banner
    window.sidebar.setCurrentRow(1)
    focus = QApplication.focusWidget() or window
    qtbot.keyClick(focus, Qt.Key.Key_5, Qt.KeyboardModifier.ControlModifier)
    assert window.pages.currentWidget() is window.settings_page  # the key it names
    qloop.run_until_complete(window.shutdown())


def test_a_setting_changed_elsewhere_shows_at_once(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services
) -> None:
    window = MainWindow(services)
    qtbot.addWidget(window)
    qloop.run_until_complete(window.start())
    prompt = window.settings_page.editors[("assistant", "system_prompt")].widget
    assert isinstance(prompt, QLineEdit)
    store = services.settings_store
    qloop.run_until_complete(store.set("assistant.system_prompt", "Be brief."))  # !instruction
    qloop.run_until_complete(store.set("speech.engine", "google"))
    qloop.run_until_complete(until(lambda: window.engine_state.text() == "Speech: google"))
    assert prompt.text() == "Be brief."  # without the page being shown again
    qloop.run_until_complete(window.shutdown())


@pytest.fixture
def with_discord(
    qloop: asyncio.AbstractEventLoop,
    qtbot: QtBot,
    services: Services,
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[MainWindow, Subscription[BridgeStateChanged]]]:
    """A window not started yet, the loopback Discord to connect to, and the bot's states."""
    fake = qloop.run_until_complete(FakeDiscord().start())
    fake.point_client_here(monkeypatch)
    window = MainWindow(services)
    qtbot.addWidget(window)
    yield window, services.events.subscribe(BridgeStateChanged)
    qloop.run_until_complete(services.close())
    qloop.run_until_complete(fake.stop())


def test_storing_a_discord_token_starts_the_bot(
    qloop: asyncio.AbstractEventLoop,
    with_discord: tuple[MainWindow, Subscription[BridgeStateChanged]],
) -> None:
    window, states = with_discord

    async def story() -> None:
        await window.start()
        assert window.bridge_state.text() == "Discord: offline" and window.discord.bridge is None
        window.settings_page.secret_inputs[Secret.DISCORD_TOKEN].setText(TOKEN)
        await window.settings_page.store_secret(Secret.DISCORD_TOKEN)
        while (await states.get()).state != "connected":
            pass
        bridge = window.discord.bridge
        assert bridge is not None and window.discord.banner.isHidden()
        await bridge.bot.wait_until_ready()
        assert [guild.name for guild in bridge.guilds()] == ["Voxdesk Test Guild"]  # no restart
        assert TOKEN not in window.settings_page.status.text()
        await window.shutdown()

    qloop.run_until_complete(asyncio.wait_for(story(), 60))


def test_a_token_stored_from_the_command_line_starts_the_open_windows_bot(
    qloop: asyncio.AbstractEventLoop,
    services: Services,
    with_discord: tuple[MainWindow, Subscription[BridgeStateChanged]],
) -> None:
    """``voxdesk config set`` and ``set-secret`` in another process while the window runs (here
    a store of their own on the same files, as the CLI's is): the window takes both in."""
    window, states = with_discord
    cli = SettingsStore(Settings(), services.settings_store.path)

    async def story() -> None:
        await window.start()
        assert window.discord.bridge is None
        await cli.set("speech.engine", "google")
        await until(lambda: window.engine_state.text() == "Speech: google")
        await cli.store_secret(Secret.DISCORD_TOKEN, TOKEN)
        while (await states.get()).state != "connected":
            pass
        assert window.discord.bridge is not None
        await window.shutdown()

    qloop.run_until_complete(asyncio.wait_for(story(), 60))


def test_saving_over_a_settings_file_with_a_bom_says_so(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services, tmp_path: Path
) -> None:
    window = MainWindow(services)
    qtbot.addWidget(window)
    path = tmp_path / "settings.toml"
    path.write_bytes(codecs.BOM_UTF8 + b'[speech]\nlanguage = "ru"\n')  # saved by Notepad
    page = window.settings_page
    prompt = page.editors[("assistant", "system_prompt")].widget
    assert isinstance(prompt, QLineEdit)
    prompt.setText("Be brief.")
    assert not qloop.run_until_complete(page.save())
    assert "starts with a byte order mark" in page.status.text()
    assert "\n" not in page.status.text() and services.settings.assistant.system_prompt is None
