"""Choosing a Whisper model or a Piper voice among the installed and the downloadable ones.

One widget for the Settings and Record pages: a model that is not here yet is downloaded on
demand, after a confirmation showing its size, with progress and Cancel (the next try resumes);
the choice is then saved as the setting, so every engine made afterwards uses it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from voxdesk.core.errors import VoxdeskError, user_message
from voxdesk.core.models import DownloadProgress, ModelStore, suggest_model
from voxdesk.core.models.catalogue import Kind
from voxdesk.core.models.in_use import SETTING, remove_model, setting_value
from voxdesk.core.models.overview import ModelRow, overview
from voxdesk.core.services import Services
from voxdesk.desktop.actions import StatusLine, answered_yes, yes_no

NAME_ROLE = Qt.ItemDataRole.UserRole
STATUS_ROLE = Qt.ItemDataRole.UserRole + 1
AUTOMATIC = "automatic"  # the voice setting's empty value: the best installed for the language
FOLDER = "folder"  # a model setting that is a folder's path


class ModelPicker(QWidget):
    """A combo of models (or voices) with their status; choosing one makes it the setting."""

    def __init__(self, services: Services, kind: Kind, store: ModelStore | None = None) -> None:
        super().__init__()
        self.services = services
        self.kind = kind
        self.key = SETTING[kind]
        self.store = store or ModelStore()
        self.language: str | None = services.settings.speech.language
        self.task: asyncio.Task[None] | None = None
        self.confirmation: QMessageBox | None = None  # the question open now, if any
        self._build()
        self.refresh()

    def _build(self) -> None:
        self.combo = QComboBox()
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.combo.activated.connect(lambda index: self.run(self.choose(self._name_at(index))))
        self.combo.currentIndexChanged.connect(lambda _: self._enable())
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Delete the selected downloaded model from the disk")
        self.remove_button.clicked.connect(lambda: self.run(self.remove(self.selected())))
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the download; choosing the model again resumes it")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.status = StatusLine()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.combo, 1)
        if self.kind == "whisper":
            folder = QPushButton("Folder…")
            folder.setToolTip("Use a CTranslate2 Whisper model folder of your own")
            folder.clicked.connect(self._choose_folder)
            row.addWidget(folder)
        row.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        downloading = QHBoxLayout()
        downloading.addWidget(self.progress, 1)
        downloading.addWidget(self.cancel_button)
        layout.addLayout(downloading)
        layout.addWidget(self.status)
        self._downloading(False)
        self.status.hide()  # until there is something to say

    # --- what the combo shows -------------------------------------------------------------

    def current(self) -> str:
        """The setting in force."""
        return setting_value(self.services.settings_store, self.key)

    def selected(self) -> str:
        return self._name_at(self.combo.currentIndex())

    def suggested(self) -> str | None:
        return suggest_model(self.language) if self.kind == "whisper" else None

    def suggest_for(self, language: str | None) -> None:
        """Mark the model suggested for ``language`` (the speech's language as it is edited)."""
        self.language = language
        self.refresh()

    def refresh(self) -> None:
        """List every model with where it stands, the setting in force selected."""
        if self.task is not None and not self.task.done():
            return  # the list changes when the download ends
        rows = [row for row in overview(self.store) if row.kind == self.kind]
        current = self.current()
        self.combo.clear()
        if self.kind == "voice":
            self.combo.addItem("Best installed voice for the language", "")
            self.combo.setItemData(0, AUTOMATIC, STATUS_ROLE)
        elif current not in {row.name for row in rows}:
            self.combo.addItem(f"{current} — model folder", current)
            self.combo.setItemData(0, FOLDER, STATUS_ROLE)
        for row in rows:
            self.combo.addItem(self._label(row), row.name)
            self.combo.setItemData(self.combo.count() - 1, row.status, STATUS_ROLE)
            self.combo.setItemData(
                self.combo.count() - 1, _details(row), Qt.ItemDataRole.ToolTipRole
            )
        self.combo.setCurrentIndex(max(self.combo.findData(current), 0))
        self._enable()

    def _label(self, row: ModelRow) -> str:
        where = f"{row.size_mb:g} MB to download" if row.status == "downloadable" else row.status
        language = {"multilingual": "all languages", "en": "English"}.get(
            row.languages, row.languages
        )
        language_named = self.language not in (None, "", "auto")
        suggested = f" · suggested for {self.language if language_named else 'any language'}"
        return f"{row.name} — {language} · {where}" + (
            suggested if row.name == self.suggested() else ""
        )

    def _name_at(self, index: int) -> str:
        return str(self.combo.itemData(index, NAME_ROLE) or "")

    def _status_of(self, name: str) -> str:
        index = self.combo.findData(name)
        return str(self.combo.itemData(index, STATUS_ROLE)) if index >= 0 else ""

    def _enable(self) -> None:
        busy = self.task is not None and not self.task.done()
        self.combo.setEnabled(not busy)
        self.remove_button.setEnabled(not busy and self._status_of(self.selected()) == "downloaded")

    def showEvent(self, event: QShowEvent) -> None:
        self.refresh()  # a model downloaded elsewhere (the other page, the CLI) shows
        super().showEvent(event)

    # --- choosing, downloading, removing --------------------------------------------------

    def run(self, work: Coroutine[Any, Any, None]) -> None:
        """Run one choice at a time; a user error lands on the status line."""
        if self.task is not None and not self.task.done():
            work.close()
            self.say("A download is under way: cancel it first.", error=True)
            return
        self.task = asyncio.ensure_future(self._guarded(work))
        self._enable()

    async def _guarded(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except VoxdeskError as error:
            self.say(user_message(error), error=True)
        finally:
            self._downloading(False)
            self.task = None
            self.refresh()

    async def choose(self, name: str) -> None:
        """Make ``name`` the setting, downloading it first (once confirmed) when needed."""
        if name == self.current():
            return
        if self._status_of(name) == "downloadable" and not await self.download(name):
            return
        await self.services.settings_store.set(self.key, name)
        self.say(f"Using {name or 'the best installed voice'}.")

    async def download(self, name: str) -> bool:
        """Ask the hub for the size, confirm it, and download; False when not downloaded."""
        self.say(f"Asking the model hub about '{name}'…")
        plan = await self.store.plan(name)
        question = (
            f"Download '{name}' ({_megabytes(plan.total)}, {len(plan.files)} files)?\n\n"
            f"It goes to {self.store.root} and can be removed here later."
        )
        if not await self.confirm("Download model", question):
            self.say("Not downloaded.")
            return False
        self._downloading(True)
        try:
            await self.store.download(name, progress=self._progressed, plan=plan)
        except asyncio.CancelledError:
            self.say(f"The download of '{name}' was stopped; choose it again to resume.")
            raise
        self.say(f"Downloaded '{name}' ({_megabytes(plan.total)}).")
        return True

    async def remove(self, name: str) -> None:
        """Delete a downloaded model once confirmed; a removed model in use gives way to the
        default."""
        if not await self.confirm("Remove model", f"Delete the downloaded '{name}' from the disk?"):
            return
        _, reset = await remove_model(name, self.services.settings_store, self.store)
        instead = f"; now using {self.current() or 'the best installed voice'}" if reset else ""
        self.say(f"Removed '{name}'{instead}.")

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    async def confirm(self, title: str, question: str) -> bool:
        """A Yes/No question that leaves the loop running (the download's progress, the bot)."""
        self.confirmation = box = yes_no(self, title, question)
        try:
            return await answered_yes(box)
        finally:
            self.confirmation = None

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Whisper model folder (CTranslate2)")
        if folder:
            self.run(self._use_folder(Path(folder)))

    async def _use_folder(self, folder: Path) -> None:
        await self.services.settings_store.set(self.key, str(folder))  # checked for model.bin
        self.say(f"Using the model in {folder}.")

    # --- progress -------------------------------------------------------------------------

    def _progressed(self, update: DownloadProgress) -> None:
        self.progress.setValue(update.done * 1000 // max(update.total, 1))
        self.progress.setFormat(
            f"{update.name}: {_megabytes(update.done)} of {_megabytes(update.total)}"
        )

    def _downloading(self, on: bool) -> None:
        self.progress.setValue(0)
        self.progress.setVisible(on)
        self.cancel_button.setVisible(on)

    def say(self, text: str, *, error: bool = False) -> None:
        self.status.show()
        self.status.say(text, error=error)

    async def shutdown(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.0f} MB" if size >= 1e6 else f"{size / 1e3:,.0f} kB"


def _details(row: ModelRow) -> str:
    speed = f", about {row.speed:g}× the speed of large" if row.speed else ""
    return f"{row.name}: {row.languages}, about {row.size_mb:g} MB{speed}"
