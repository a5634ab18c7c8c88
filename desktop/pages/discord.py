"""The bot's traffic, live, and acting as the bot: write, speak, join, correct a reply."""

from __future__ import annotations

import asyncio
import contextlib
import html
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QIcon, QKeySequence, QShortcut, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QStyle,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from voxdesk.core.events import BridgeStateChanged, Event, GuildInfo, ReplySent
from voxdesk.core.services import Services
from voxdesk.desktop.actions import Actions, StatusLine
from voxdesk.desktop.captions import CaptionsPanel
from voxdesk.desktop.feed import FeedModel, FeedRow, PlaceFilter
from voxdesk.desktop.tables import row_table

if TYPE_CHECKING:
    from voxdesk.bridge.runner import Bridge

GUILD, CHANNEL, VOICE = "guild", "channel", "voice"
ROLE_FEED = Qt.ItemDataRole.UserRole  # the FeedRow behind a feed line
ROLE_KIND = Qt.ItemDataRole.UserRole + 1  # the tree's item kind, id and guild id
ROLE_ID = Qt.ItemDataRole.UserRole + 2
ROLE_GUILD = Qt.ItemDataRole.UserRole + 3


class DiscordPage(QWidget):
    settings_requested = Signal()  # the offline banner's link to the Settings page

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.status = StatusLine()
        self.background = Actions(self.status)
        self.bridge: Bridge | None = None
        self._settings_shortcut = ""
        self.feed = FeedModel()
        self.filter = PlaceFilter()
        self.filter.setSourceModel(self.feed)
        self.places = QStandardItemModel()
        self._listener: asyncio.Task[None] | None = None
        self._build()
        self._set_online(False)

    def _build(self) -> None:
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.linkActivated.connect(lambda _: self.settings_requested.emit())
        self.tree = QTreeView()
        self.tree.setModel(self.places)
        self.tree.setHeaderHidden(True)
        self.tree.selectionModel().currentChanged.connect(self._place_selected)
        self.table = row_table(self.filter, QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # The text takes what is left and ends in "…" (whole in its tooltip): sized to its
        # contents, one long message pushed time, place and author out of view.
        header.setSectionResizeMode(header.count() - 1, QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._show_link())
        self.message = QLineEdit()
        self.message.setPlaceholderText("Write as the bot in the selected channel…")
        self.message.setMinimumWidth(  # the hint whole, beside five buttons
            self.message.fontMetrics().horizontalAdvance(self.message.placeholderText()) + 24
        )
        self.message.returnPressed.connect(self.send)
        self.send_button = QPushButton("Send")
        self.send_button.clicked.connect(self.send)
        self.speak_button = QPushButton("Speak")
        self.speak_button.setToolTip("Say it in the voice channel the bot has joined")
        self.speak_button.clicked.connect(self.speak)
        self.join_button = QPushButton("Join voice")
        self.join_button.clicked.connect(self.join)
        self.leave_button = QPushButton("Leave voice")
        self.leave_button.clicked.connect(self.leave)
        self.correct_button = QPushButton("Correct reply…")
        self.correct_button.setToolTip(
            "Mark the selected bot reply as wrong and write a better one"
        )
        self.correct_button.clicked.connect(lambda: self.correct_selected())
        compose = QHBoxLayout()
        compose.addWidget(self.message, 1)
        for button in (self.send_button, self.speak_button, self.join_button, self.leave_button,
                       self.correct_button):  # fmt: skip
            compose.addWidget(button)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        # The voice channel being listened to, live, under the feed.
        self.captions = CaptionsPanel(
            self.services.events, lambda: self.services.speech.transcriber().name
        )
        feed_and_captions = QSplitter(Qt.Orientation.Vertical)
        feed_and_captions.addWidget(self.table)
        feed_and_captions.addWidget(self.captions)
        right_layout.addWidget(feed_and_captions, 1)
        right_layout.addLayout(compose)
        right_layout.addWidget(self.status)
        split = QSplitter()
        split.addWidget(self.tree)
        split.addWidget(right)
        split.setSizes([220, 780])
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(split, 1)
        QShortcut(QKeySequence("Ctrl+Return"), self).activated.connect(self.send)

    # --- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Show every event the bridge publishes; refresh the channels when it connects."""
        self._listener = asyncio.ensure_future(self._follow())
        self.captions.start()

    def attach(self, bridge: Bridge | None) -> None:
        self.bridge = bridge
        self._set_online(bridge is not None)

    def say_why_offline(self, reason: str) -> None:
        """The banner tells why the bot did not start, when it is not a missing token."""
        self.banner.setText(f"The bot is offline here: {html.escape(reason)}")

    def name_settings_shortcut(self, shortcut: str) -> None:
        """The window's key for its Settings page, which the offline banner names."""
        self._settings_shortcut = shortcut
        self._set_online(self.bridge is not None)

    async def _follow(self) -> None:
        async for event in self.services.events.subscribe(Event, size=2000):
            self.feed.add(event)
            if isinstance(event, BridgeStateChanged) and event.state == "connected":
                self.refresh_places()

    async def shutdown(self) -> None:
        await self.background.cancel()
        await self.captions.shutdown()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener

    # --- places ---------------------------------------------------------------------------------

    def refresh_places(self) -> None:
        self.places.clear()
        voice_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MediaVolume)
        for guild in self.bridge.guilds() if self.bridge else []:
            self.places.appendRow(_guild_item(guild, voice_icon))
        self.tree.expandAll()

    def _place_selected(self) -> None:
        kind, place_id, guild_id = self._current_place()
        if kind == GUILD:
            self.filter.show_only(place_id, None)
        elif kind in (CHANNEL, VOICE):
            self.filter.show_only(guild_id, place_id)
        else:
            self.filter.show_only(None, None)

    def _current_place(self) -> tuple[str | None, int | None, int | None]:
        index = self.tree.currentIndex()
        if not index.isValid():
            return None, None, None
        return (index.data(ROLE_KIND), index.data(ROLE_ID), index.data(ROLE_GUILD))

    # --- acting as the bot ---------------------------------------------------------------------

    def send(self) -> None:
        kind, channel_id, _ = self._current_place()
        text = self.message.text().strip()
        if kind != CHANNEL or channel_id is None:
            self.status.say("Select a text channel first.", error=True)
        elif not text:
            self.status.say("Write what to send first.", error=True)
        elif self.bridge:
            self._run(self.bridge.send(channel_id, text), "Sent.", clear=True)

    def speak(self) -> None:
        _, _, guild_id = self._current_place()
        text = self.message.text().strip()
        if guild_id is None or not text or not self.bridge:
            self.status.say("Select a channel of the guild and write what to say.", error=True)
            return
        self._run(self.bridge.speak(guild_id, text), "Speaking…", clear=True)

    def join(self) -> None:
        kind, channel_id, _ = self._current_place()
        if kind != VOICE or channel_id is None or not self.bridge:
            self.status.say("Select a voice channel to join.", error=True)
            return
        self.status.say("Joining the voice channel…")  # Discord may take seconds to answer
        self._run(self.bridge.join(channel_id), "Joined.", refresh=True)

    def leave(self) -> None:
        _, _, guild_id = self._current_place()
        if guild_id is None or not self.bridge:
            self.status.say("Select the guild whose voice channel to leave.", error=True)
            return
        self._run(self.bridge.leave(guild_id), "Left the voice channel.", refresh=True)

    def correct_selected(self, correction: str | None = None) -> None:
        row = self._selected_row()
        if row is None or not isinstance(row.event, ReplySent) or not row.event.question:
            self.status.say("Select one of the bot's replies to a question first.", error=True)
            return
        if correction is None:
            correction, ok = QInputDialog.getMultiLineText(
                self, "Correct the reply", f"The bot said:\n{row.text}\n\nA better answer:"
            )
            if not ok or not correction.strip():
                return
        self._run(self._store_correction(row.event, correction.strip()), "Saved as a candidate.")

    async def _store_correction(self, reply: ReplySent, correction: str) -> None:
        dataset = self.services.settings.discord.dataset_for(reply.place.guild_id)
        await self.services.datasets.add_correction(
            dataset, conversation=[{"role": "user", "content": reply.question}],
            wrong_reply=reply.text, corrected_reply=correction,
            metadata={"discord": {"channel_id": reply.place.channel_id,
                                  "message_id": reply.message_id, "author": "operator"}},
        )  # fmt: skip

    def _show_link(self) -> None:
        """An answer to a voice message, selected, says which transcript it answers."""
        row = self._selected_row()
        if row is not None and row.answers is not None:
            self.status.say(f"{row.link}: «{' '.join(row.answers.text.split())}»")

    def _selected_row(self) -> FeedRow | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        row = self.filter.data(rows[0], ROLE_FEED)
        return row if isinstance(row, FeedRow) else None

    def _run(self, work: Coroutine[Any, Any, None], done: str, *, clear: bool = False,
             refresh: bool = False) -> None:  # fmt: skip
        async def then() -> None:
            await work
            if clear:
                self.message.clear()
            if refresh:
                self.refresh_places()
            self.status.say(done)

        self.background.run(then())

    def _set_online(self, online: bool) -> None:
        for widget in (self.message, self.send_button, self.speak_button, self.join_button,
                       self.leave_button):  # fmt: skip
            widget.setEnabled(online)
        self.banner.setVisible(not online)
        shortcut = f" ({self._settings_shortcut})" if self._settings_shortcut else ""
        self.banner.setText(
            f'The bot is offline: store the Discord bot token in <a href="settings">Settings</a>'
            f"{shortcut} and it starts. The feed still shows what happens here."
        )


def _guild_item(guild: GuildInfo, voice_icon: QIcon) -> QStandardItem:
    item = QStandardItem(guild.name)
    item.setEditable(False)
    item.setData(GUILD, ROLE_KIND)
    item.setData(guild.id, ROLE_ID)
    item.setData(guild.id, ROLE_GUILD)
    for channel in guild.channels:
        joined = " (bot here)" if channel.id == guild.voice_channel_id else ""
        # An icon, not an emoji: many systems have no emoji font to draw one.
        child = QStandardItem(("" if channel.voice else "# ") + channel.name + joined)
        if channel.voice:
            child.setIcon(voice_icon)
        child.setEditable(False)
        child.setData(VOICE if channel.voice else CHANNEL, ROLE_KIND)
        child.setData(channel.id, ROLE_ID)
        child.setData(guild.id, ROLE_GUILD)
        item.appendRow(child)
    return item
