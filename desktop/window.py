"""The main window: pages in a sidebar, a status bar, and the bot started on the same loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QSettings, Qt
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QStackedWidget,
    QStyle,
    QWidget,
)

from voxdesk.core.config import Secret
from voxdesk.core.errors import VoxdeskError, user_message
from voxdesk.core.events import BridgeStateChanged, SettingsChanged
from voxdesk.core.instance import BotRunningElsewhere
from voxdesk.core.services import Services
from voxdesk.desktop.actions import SETTINGS_LINK, StatusLine
from voxdesk.desktop.following import SettingsFollower
from voxdesk.desktop.pages.dataset import DatasetPage
from voxdesk.desktop.pages.discord import DiscordPage
from voxdesk.desktop.pages.finetune import FineTunePage
from voxdesk.desktop.pages.record import RecordPage
from voxdesk.desktop.pages.settings import SettingsPage

if TYPE_CHECKING:
    from voxdesk.bridge.runner import Bridge

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.setWindowTitle("Voxdesk")
        # The narrowest every page's buttons read whole at (the Fine-tunes job actions, the
        # Discord page's message box and its five buttons); a 1366×768 screen holds it.
        self.setMinimumSize(1024, 600)
        self.record = RecordPage(services)
        self.discord = DiscordPage(services)
        self.dataset = DatasetPage(services)
        self.finetune = FineTunePage(services)
        self.settings_page = SettingsPage(services)
        self.settings_page.saved.connect(self.refresh_status)
        self.discord.settings_requested.connect(lambda: self.show_page(self.settings_page))
        self.sidebar = QListWidget()
        self.pages = QStackedWidget()
        self._add_page("Record", QStyle.StandardPixmap.SP_MediaPlay, self.record)
        self._add_page("Discord", QStyle.StandardPixmap.SP_DriveNetIcon, self.discord)
        self._add_page("Dataset", QStyle.StandardPixmap.SP_FileDialogListView, self.dataset)
        self._add_page("Fine-tunes", QStyle.StandardPixmap.SP_BrowserReload, self.finetune)
        self._add_page("Settings", QStyle.StandardPixmap.SP_FileDialogDetailedView,
                       self.settings_page)  # fmt: skip
        self.sidebar.setFixedWidth(160)
        self.sidebar.currentRowChanged.connect(self.pages.setCurrentIndex)
        body = QWidget()
        layout = QHBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.sidebar)
        layout.addWidget(self.pages, 1)
        self.setCentralWidget(body)
        for status in self.findChildren(StatusLine):  # "No OpenAI API key is set: Settings"
            status.linkActivated.connect(self.show_secret_setting)
        self.bridge_state = QLabel()
        self.engine_state = QLabel()
        self.key_state = QLabel()
        for label in (self.bridge_state, self.engine_state, self.key_state):
            self.statusBar().addPermanentWidget(label)
        self._shortcuts()
        self.discord.name_settings_shortcut(
            self.page_shortcut(self.settings_page).toString(QKeySequence.SequenceFormat.NativeText)
        )
        self._restore()
        self.refresh_status()
        self._set_bridge_state("offline", "no Discord token (Settings)")
        self._bridge: Bridge | None = None
        self._listeners: list[asyncio.Task[None]] = []
        self._starting = asyncio.Lock()  # start() and a token stored meanwhile: one bot
        self.following = SettingsFollower(services.settings_store, self)
        self.following.problem.connect(self.statusBar().showMessage)

    def _add_page(self, name: str, icon: QStyle.StandardPixmap, page: QWidget) -> None:
        item = QListWidgetItem(self.style().standardIcon(icon), name)
        self.sidebar.addItem(item)
        self.pages.addWidget(page)

    def show_page(self, page: QWidget) -> None:
        self.sidebar.setCurrentRow(self.pages.indexOf(page))

    def show_secret_setting(self, link: str) -> None:
        """The Settings page with the field of the secret a status line says is missing."""
        name = link.removeprefix(SETTINGS_LINK)
        if link.startswith(SETTINGS_LINK) and name in Secret.__members__:
            self.show_page(self.settings_page)
            self.settings_page.focus_secret(Secret(name))

    def bring_forward(self, files: list[Path]) -> None:
        """Come to the front, as a second launch on this profile asks, with its files."""
        self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.show()
        self.raise_()
        self.activateWindow()
        self.transcribe(files)

    def transcribe(self, files: list[Path]) -> None:
        """Transcribe ``files`` on the Record page, after whatever it is transcribing now."""
        if files:
            self.show_page(self.record)
            self.record.queue_files(files)

    def page_shortcut(self, page: QWidget) -> QKeySequence:
        """Ctrl+1 for the first page in the sidebar, Ctrl+2 for the second, and so on."""
        return _page_key(self.pages.indexOf(page))

    def _shortcuts(self) -> None:
        for index in range(self.pages.count()):
            shortcut = QShortcut(_page_key(index), self)
            shortcut.activated.connect(lambda i=index: self.sidebar.setCurrentRow(i))
        QShortcut(QKeySequence.StandardKey.Open, self).activated.connect(self.record.open_files)
        # Not StandardKey.Quit: some platforms (Windows, offscreen) bind nothing to it.
        QShortcut(QKeySequence("Ctrl+Q"), self).activated.connect(self.close)

    def refresh_status(self) -> None:
        speech = self.services.settings.speech
        model = f" ({speech.whisper_model})" if speech.engine == "whisper" else ""
        self.engine_state.setText(f"Speech: {speech.engine}{model}")
        has_key = self.services.secrets.get(Secret.OPENAI_API_KEY) is not None
        self.key_state.setText("OpenAI key: set" if has_key else "OpenAI key: not set")
        self.key_state.setToolTip("" if has_key else "Replies and fine-tunes need it: Settings")

    def _set_bridge_state(self, state: str, detail: str = "") -> None:
        self.bridge_state.setText(f"Discord: {state}")
        self.bridge_state.setToolTip(detail)

    async def start(self) -> None:
        """Follow the bridge's state and the settings, and start the bot when a token is
        configured."""
        self._listeners = [asyncio.ensure_future(self._follow_bridge_state()),
                           asyncio.ensure_future(self._follow_settings())]  # fmt: skip
        self.discord.start()
        await self.following.start()
        await self.dataset.refresh()
        await self.finetune.start()
        await self.start_bridge()

    async def start_bridge(self) -> None:
        """Start the bot, unless it runs already or no token is configured."""
        async with self._starting:
            if self._bridge is not None or self.services.secrets.get(Secret.DISCORD_TOKEN) is None:
                return
            from voxdesk.bridge.runner import Bridge  # discord.py loads only with a token

            bridge = Bridge(self.services, front_end="window")
            try:
                await bridge.start()
            except VoxdeskError as error:
                elsewhere = isinstance(error, BotRunningElsewhere)
                self._set_bridge_state("running elsewhere" if elsewhere else "error",
                                       user_message(error))  # fmt: skip
                self.statusBar().showMessage(user_message(error))  # a tooltip alone goes unseen
                self.discord.say_why_offline(user_message(error))
                return
            self._bridge = bridge
            self.discord.attach(bridge)

    async def _follow_bridge_state(self) -> None:
        async for event in self.services.events.subscribe(BridgeStateChanged, size=50):
            self._set_bridge_state(event.state, event.detail)

    async def _follow_settings(self) -> None:
        """Show settings changed anywhere (the bot's !instruction, this window, a token stored);
        a Discord token stored starts the bot without a restart."""
        async for event in self.services.events.subscribe(SettingsChanged, size=50):
            self.refresh_status()
            self.settings_page.refresh()
            if Secret.DISCORD_TOKEN.value in event.keys:
                await self.start_bridge()

    async def shutdown(self) -> None:
        await self.following.stop()
        for listener in self._listeners:  # first: no bot starts while this one stops
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        if self._bridge is not None:
            await self._bridge.stop()
        await self.record.shutdown()
        await self.discord.shutdown()
        await self.dataset.shutdown()
        await self.finetune.shutdown()

    def _restore(self) -> None:
        stored = QSettings()
        geometry = stored.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:
            self.resize(1100, 720)
        page = stored.value("window/page", 0)
        self.sidebar.setCurrentRow(int(page) if isinstance(page, int | str) else 0)

    def closeEvent(self, event: QCloseEvent) -> None:
        stored = QSettings()
        stored.setValue("window/geometry", self.saveGeometry())
        stored.setValue("window/page", self.sidebar.currentRow())
        super().closeEvent(event)


def _page_key(index: int) -> QKeySequence:
    return QKeySequence(f"Ctrl+{index + 1}")
