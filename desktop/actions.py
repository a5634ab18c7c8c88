"""What every page does with background work and the one-line status under it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Iterator
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QLabel, QMessageBox, QWidget

from voxdesk.core.config import MissingSecret
from voxdesk.core.errors import VoxdeskError, user_message

SETTINGS_LINK = "settings:"  # then the secret's name: the window shows that field


class EnabledWhileRunning:
    """A button (Stop) there to press while work runs, and only then: ``with running():``."""

    def __init__(self, button: QAbstractButton) -> None:
        self.button = button
        self.runs = 0
        button.setEnabled(False)

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        self.runs += 1
        self.button.setEnabled(True)
        try:
            yield
        finally:
            self.runs -= 1
            self.button.setEnabled(self.runs > 0)


class StatusLine(QLabel):
    """A line saying what just happened; errors in red. A missing secret links to the
    Settings page's field for it (the window follows ``linkActivated``)."""

    def __init__(self, text: str = "") -> None:
        super().__init__(text)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)  # file names and server text, never markup

    def say(self, text: str, *, error: bool = False) -> None:
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setText(text)
        self.setStyleSheet("color: #c0392b;" if error else "")

    def fail(self, error: VoxdeskError) -> None:
        """``error`` in red; in the window's words where the CLI's would mislead (a secret is
        stored on the Settings page, not with a terminal command)."""
        if not isinstance(error, MissingSecret):
            self.say(user_message(error), error=True)
            return
        label = error.secret.label
        self.say("", error=True)
        self.setTextFormat(Qt.TextFormat.RichText)
        link = f'<a href="{SETTINGS_LINK}{error.secret.value}">Settings: {label}</a>'
        self.setText(f"No {label} is set: store it in {link}.")


def yes_no(parent: QWidget, title: str, question: str) -> QMessageBox:
    """A Yes/No question, Yes by default, for ``answered_yes``."""
    buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
    box = QMessageBox(QMessageBox.Icon.Question, title, question, buttons, parent)
    box.setDefaultButton(QMessageBox.StandardButton.Yes)
    return box


async def answered_yes(box: QMessageBox) -> bool:
    """Open ``box`` and wait for its answer with the loop running on. A question asked with
    exec() (QMessageBox.question) inside a coroutine runs a loop inside that task, where qasync
    cannot step any other: the bot's heartbeat and replies failed until it was answered."""
    answered: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def finished() -> None:
        if not answered.done():
            answered.set_result(box.clickedButton() is box.button(QMessageBox.StandardButton.Yes))

    box.finished.connect(finished)
    box.open()
    try:
        return await answered
    finally:
        box.deleteLater()


class Actions:
    """Runs a page's coroutines in the background; a user error lands on its status line."""

    def __init__(self, status: StatusLine) -> None:
        self._status = status
        self.running: set[asyncio.Task[None]] = set()

    def run(self, work: Coroutine[Any, Any, Any]) -> None:
        async def guarded() -> None:
            try:
                await work
            except VoxdeskError as error:
                self._status.fail(error)

        task = asyncio.ensure_future(guarded())
        self.running.add(task)
        task.add_done_callback(self.running.discard)

    def stop(self) -> None:
        """Cancel everything running here (what a page's Cancel button does)."""
        for task in self.running:
            task.cancel()

    async def settle(self) -> None:
        """Wait until nothing started here is still running."""
        while self.running:
            await asyncio.gather(*self.running, return_exceptions=True)

    async def cancel(self) -> None:
        """Cancel everything running here and wait until it has stopped."""
        self.stop()
        await self.settle()
