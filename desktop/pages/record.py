"""Record and transcribe: files (opened or dropped) and the microphone, with history."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine, Iterable
from pathlib import Path
from typing import Any, cast

from PySide6.QtCore import Qt
from PySide6.QtGui import (
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
    QPalette,
    QTextCharFormat,
    QTextCursor,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from voxdesk.core.audio import (
    AudioSource,
    MicrophoneSource,
    MicrophoneUnavailable,
    Pcm,
    list_input_devices,
    measure,
)
from voxdesk.core.audio.playback import play
from voxdesk.core.errors import VoxdeskError, user_message
from voxdesk.core.services import Services
from voxdesk.core.stt import ENGINES, Transcript
from voxdesk.core.stt.base import Word, join_words, word_gap
from voxdesk.core.stt.formats import OutputFormat, render
from voxdesk.core.stt.queue import JobState, TranscriptionJob, TranscriptionQueue
from voxdesk.core.stt.streaming import (
    LiveTranscriber,
    LiveUpdate,
    live_transcriber,
    transcribe_live,
)
from voxdesk.core.training.store import NewExample, Origin
from voxdesk.core.tts import speakable
from voxdesk.desktop.actions import StatusLine
from voxdesk.desktop.editor import open_editor
from voxdesk.desktop.history import Entry, TranscriptHistory
from voxdesk.desktop.models import ModelPicker
from voxdesk.desktop.queue import QueueView

LANGUAGES = ("auto", "ru-RU", "en-US", "de-DE", "fr-FR", "es-ES", "uk-UA", "zh-CN")
EXPORT_FILTERS = {"txt": "Text (*.txt)", "srt": "SubRip subtitles (*.srt)",
                  "vtt": "WebVTT subtitles (*.vtt)", "json": "JSON (*.json)"}  # fmt: skip


class RecordPage(QWidget):
    def __init__(self, services: Services, history: TranscriptHistory | None = None) -> None:
        super().__init__()
        self.services = services
        self.history = history or TranscriptHistory()
        self._job: asyncio.Task[None] | None = None
        # files wait here and run a few at a time, beside recording and reading
        self.queue = TranscriptionQueue(services.speech)
        self._batches: set[asyncio.Task[None]] = set()  # transcribe_files() under way
        self._microphone: AudioSource | None = None
        self._partial_at = 0  # where the partial (lighter) words begin in the live text
        # The transcript this page put in view (the newest when it opened, or a file just
        # transcribed): while it is still the one shown, the next file done takes its place.
        self._put_in_view: Entry | None = None
        self.live_updates = 0
        self.setAcceptDrops(True)
        self._build()

    def _build(self) -> None:
        controls = self._controls()  # first: focus moves through widgets in creation order
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.progress.hide()  # shown while transcribing
        self.status = StatusLine("Open or drop audio files, or record the microphone.")
        if self.history.problem:
            self.status.say(self.history.problem, error=True)
        self.list = QListView()
        self.list.setModel(self.history)
        self.list.setUniformItemSizes(True)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.selectionModel().currentChanged.connect(self._show_selected)
        self.list.doubleClicked.connect(self.edit_selected)
        self.history.dataChanged.connect(self._show_selected)  # edited in the editor
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        self._add_transcript_panel(right_layout)
        self._add_ask_panel(right_layout)
        split = QSplitter()
        self.files = QueueView(self.queue)
        self.files.model.done.connect(self._file_done)
        self.queue.subscribe(self._queue_changed)
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.files)
        left.addWidget(self.list)
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([380, 620])
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(split, 1)
        if self.history.rowCount():
            self._show_newest()

    def _controls(self) -> QVBoxLayout:
        """Engine, language and microphone pickers; open, record and cancel."""
        speech = self.services.settings.speech
        self.engine = QComboBox()
        self.engine.addItems(ENGINES)
        self.engine.setCurrentText(speech.engine)
        self.language = QComboBox()
        self.language.setEditable(True)
        self.language.addItems(LANGUAGES)
        self.language.setCurrentText(speech.language)
        # Whisper's model, the one suggested for the language marked; saved as the setting.
        self.model = ModelPicker(self.services, "whisper")
        self.model_label = QLabel("Model")
        self.language.currentTextChanged.connect(self.model.suggest_for)
        self.engine.currentTextChanged.connect(self._engine_chosen)
        self._engine_chosen(speech.engine)
        self.translate = QCheckBox("Translate")
        self.translate.setToolTip("English text, whatever language is spoken (whisper, openai)")
        self.device = QComboBox()
        self.device.setToolTip("Microphone to record from")
        self.refresh_devices()
        self.open_button = QPushButton("Open files…")
        self.open_button.setToolTip("Transcribe audio files (Ctrl+O), or drop them here")
        self.open_button.clicked.connect(self.open_files)
        self.record_button = QPushButton("● Record")
        self.record_button.setCheckable(True)
        self.record_button.setShortcut(QKeySequence("Ctrl+R"))
        self.record_button.setToolTip("Record the microphone (Ctrl+R); again to stop")
        self.record_button.toggled.connect(self._record_toggled)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.level = QProgressBar()
        self.level.setRange(0, 100)
        self.level.setTextVisible(False)
        self.level.setFixedWidth(120)
        self.level.setToolTip("Microphone level")
        self.level.hide()  # shown while recording
        # Two rows: in one, the model picker's buttons were squeezed to slivers at 1180 px.
        pickers, actions = QHBoxLayout(), QHBoxLayout()
        for label, widget in (("Engine", self.engine), ("Language", self.language),
                              (self.model_label, self.model)):  # fmt: skip
            pickers.addWidget(QLabel(label) if isinstance(label, str) else label)
            pickers.addWidget(widget)
        pickers.addWidget(self.translate)
        pickers.addStretch(1)
        actions.addWidget(QLabel("Microphone"))
        actions.addWidget(self.device)
        actions.addStretch(1)
        for control in (self.open_button, self.record_button, self.level, self.cancel_button):
            actions.addWidget(control)
        controls = QVBoxLayout()
        controls.addLayout(pickers)
        controls.addLayout(actions)
        return controls

    def _engine_chosen(self, engine: str) -> None:
        self.model.setVisible(engine == "whisper")  # the other engines have no model to choose
        self.model_label.setVisible(engine == "whisper")

    def _add_transcript_panel(self, layout: QVBoxLayout) -> None:
        """The selected transcript, with what can be done with it."""
        self.details = QLabel()
        self.details.setStyleSheet("color: palette(mid);")
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setPlaceholderText("The selected transcript appears here.")
        copy, export = QPushButton("Copy"), QPushButton("Export…")
        edit = QPushButton("Edit…")
        edit.setToolTip("Words with their times, playback, undo (or double-click a transcript)")
        edit.clicked.connect(self.edit_selected)
        copy.clicked.connect(self.copy_selected)
        export.clicked.connect(self.export_selected)
        to_dataset = QPushButton("Add to dataset")
        to_dataset.setToolTip("A candidate example: the transcript as the user's message")
        to_dataset.clicked.connect(lambda: self.start(self.add_to_dataset()))
        actions = QHBoxLayout()
        actions.addStretch(1)
        actions.addWidget(to_dataset)
        actions.addWidget(edit)
        actions.addWidget(copy)
        actions.addWidget(export)
        layout.addWidget(self.details)
        layout.addWidget(self.text, 2)
        layout.addLayout(actions)  # copy and export act on the transcript above

    def _add_ask_panel(self, layout: QVBoxLayout) -> None:
        """A conversation with the bot's assistant, typed or from the transcript."""
        self.conversation = QPlainTextEdit()
        self.conversation.setReadOnly(True)
        self.question = QLineEdit()
        self.question.setPlaceholderText("Type a question…")
        self.question.setToolTip("Ask sends the question; Ask with transcript adds the "
                                 "selected transcript to it")  # fmt: skip
        self.question.setMinimumWidth(  # the hint whole, whatever the window's width
            self.question.fontMetrics().horizontalAdvance(self.question.placeholderText()) + 24
        )
        self.question.returnPressed.connect(lambda: self.start(self.ask()))
        self.speak_replies = QCheckBox("Speak replies")
        self.speak_replies.setChecked(True)
        ask, ask_transcript = QPushButton("Ask"), QPushButton("Ask with transcript")
        ask.clicked.connect(lambda: self.start(self.ask()))
        ask_transcript.clicked.connect(lambda: self.start(self.ask(use_transcript=True)))
        ask_row = QHBoxLayout()
        ask_row.addWidget(self.question, 1)
        ask_row.addWidget(self.speak_replies)
        ask_row.addWidget(ask)
        ask_row.addWidget(ask_transcript)
        layout.addWidget(QLabel("Ask the assistant (the bot's model and instruction)"))
        layout.addWidget(self.conversation, 1)
        layout.addLayout(ask_row)

    # --- files ------------------------------------------------------------------------------

    def open_files(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(
            self, "Transcribe audio files", "",
            "Audio (*.ogg *.opus *.mp3 *.m4a *.wav *.flac *.webm *.aiff *.aac);;All files (*)",
        )  # fmt: skip
        if names:
            self.queue_files([Path(name) for name in names])

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.queue_files(paths)

    def start(self, work: Coroutine[Any, Any, None]) -> None:
        if self._job is not None and not self._job.done():
            self.status.say("Busy: cancel the current transcription first.", error=True)
            return
        self._job = asyncio.ensure_future(work)

    def queue_files(self, paths: list[Path]) -> None:
        """Add ``paths`` to the queue (opened, dropped, or handed over by a second launch)."""
        batch = asyncio.ensure_future(self._sum_up(self._add_to_queue(paths)))
        self._batches.add(batch)
        batch.add_done_callback(self._batches.discard)

    async def transcribe_files(self, paths: list[Path]) -> None:
        """Queue ``paths`` and wait for them. Each file done goes to the history as it ends
        (``_file_done``)."""
        await self._sum_up(self._add_to_queue(paths))

    def _add_to_queue(self, paths: list[Path]) -> list[TranscriptionJob]:
        jobs = self.queue.add(
            paths, engine=self.engine.currentText(),
            language=self.language.currentText().strip() or "auto",
            words=True, translate=self.translate.isChecked(),  # words: for the editor
        )  # fmt: skip
        self.status.say(f"{len(jobs)} file(s) queued.")
        self._put_in_view = self.selected()  # asked for these files: they may take its place
        return jobs

    async def _sum_up(self, jobs: list[TranscriptionJob]) -> None:
        """Once these files have finished, what became of them in the status line."""
        try:
            jobs = await self.queue.wait(jobs)
        except asyncio.CancelledError:
            for job in jobs:
                self.queue.cancel(job.id)
            self.status.say("Cancelled.")
            return
        problems = [job.error for job in jobs if job.state is JobState.FAILED]
        done = sum(job.state is JobState.DONE for job in jobs)
        if problems:
            self.status.say(f"{done} of {len(jobs)} transcribed. {' '.join(problems)}", error=True)
        elif done < len(jobs):
            self.status.say("Cancelled." if not done else f"{done} of {len(jobs)} transcribed.")
        else:
            self.status.say(f"Done: {done} file(s) transcribed.")

    def _file_done(self, job: TranscriptionJob) -> None:
        """A file of the queue, now in the history; shown unless the user chose another
        transcript to read since the files were queued."""
        assert job.transcript is not None
        shown = self.selected()
        chose_another = shown is not None and shown is not self._put_in_view
        self.history.add(job.name, job.transcript, job.path)
        if not chose_another:
            self._show_newest()

    def _show_newest(self) -> None:
        self.list.setCurrentIndex(self.history.index(0))
        self._put_in_view = self.history.entries[0]

    def _queue_changed(self, _job: TranscriptionJob) -> None:
        """The bar shows the files still to do, on average; Cancel stops them."""
        pending = [job for job in self.queue.jobs if not job.finished]
        self.progress.setVisible(bool(pending))
        self.progress.setValue(int(sum(job.progress for job in pending) / len(pending) * 1000)
                               if pending else 0)  # fmt: skip
        busy = self._job is not None and not self._job.done()
        self.cancel_button.setEnabled(bool(pending) or busy)

    async def _transcribe(self, name: str, audio: Pcm) -> None:
        """A take recorded with an engine that cannot follow it live, into the history."""
        self.progress.setValue(0)
        try:
            transcript = await self.services.speech.transcribe_pcm(
                audio, engine=self.engine.currentText(),
                language=self.language.currentText().strip() or "auto",
                progress=self._progressed, translate=self.translate.isChecked(),
            )  # fmt: skip
        except VoxdeskError as error:
            self.status.say(f"{name}: {user_message(error)}", error=True)
            return
        self._keep(name, transcript)

    def _keep(self, name: str, transcript: Transcript, audio: Path | None = None) -> None:
        self.history.add(name, transcript, audio)
        self._show_newest()

    def _progressed(self, done: float) -> None:
        self.progress.setValue(int(done * 1000))

    def cancel(self) -> None:
        self.queue.cancel_all()
        if self._job is not None:
            self._job.cancel()

    # --- microphone -----------------------------------------------------------------------------

    def _record_toggled(self, on: bool) -> None:
        if on:
            self.start(self.record_microphone())
        elif self._microphone is not None:
            self._microphone.stop()

    def refresh_devices(self) -> None:
        """List the inputs; without PortAudio or a microphone, say why instead."""
        self.device.clear()
        try:
            devices = list_input_devices()
        except VoxdeskError as error:
            self.device.addItem("no microphone", None)
            self.device.setToolTip(user_message(error))
            return
        self.device.addItem("system default", None)
        for device in devices:
            self.device.addItem(device.name, device.index)
        wanted = self.services.settings.audio.input_device
        if wanted is not None:
            found = self.device.findText(str(wanted))
            self.device.setCurrentIndex(max(found, 0))

    async def record_microphone(self, source: AudioSource | None = None) -> None:
        """Record until Stop; with Whisper, words appear while speaking (partial ones lighter).

        The transcript kept after Stop is the live one's final words: the take is not read again.
        """
        self._microphone = source or MicrophoneSource(self.device.currentData())
        live, why_not = self._live_transcriber()
        blocks: list[Pcm] = []  # kept only for an engine that transcribes after Stop
        self._recording(True, why_not)
        try:
            if live is None:
                blocks = [block async for block in self._metered(self._microphone)]
            else:
                async for update in transcribe_live(self._metered(self._microphone), live):
                    self._show_live(update)
        except MicrophoneUnavailable as error:
            self._microphone_failed(error)
            return
        except VoxdeskError as error:
            self.status.fail(error)
            return
        finally:
            self._recording(False)
        if live is not None and live.heard:
            self._keep(f"Recording ({live.heard:.0f} s)", live.transcript())
            self.status.say("Recording transcribed.")
        elif blocks:
            audio = Pcm.concatenate(blocks, blocks[0].sample_rate)
            await self._transcribe(f"Recording ({audio.duration:.0f} s)", audio)
            self.status.say("Recording transcribed.")

    def _microphone_failed(self, error: MicrophoneUnavailable) -> None:
        """Say what to do in this window: PortAudio's words ("Error querying device -1") go to
        the tooltip, and the CLI's hint (``voxdesk devices``) is this page's Microphone list."""
        chosen = self.device.currentText()
        self.refresh_devices()  # plugged in or out since the page opened
        self.device.setCurrentIndex(max(self.device.findText(chosen), 0))
        inputs = [i for i in range(self.device.count()) if self.device.itemData(i) is not None]
        if not inputs:
            self.status.say("No microphone was found: connect one (and allow Voxdesk to use it), "
                            "then press Record again.", error=True)  # fmt: skip
        else:
            self.status.say(f"The microphone '{self.device.currentText()}' cannot be opened: "
                            "choose another in the Microphone list, or check that it is "
                            "connected and allowed.", error=True)  # fmt: skip
        self.status.setToolTip(user_message(error))

    def _live_transcriber(self) -> tuple[LiveTranscriber | None, str]:
        """A live stream on the chosen engine, or None and why not."""
        language = self.language.currentText().strip() or "auto"
        try:
            engine = self.services.speech.transcriber(self.engine.currentText())
            translate = self.translate.isChecked()
            return live_transcriber(engine, language=language, translate=translate), ""
        except VoxdeskError as error:
            return None, user_message(error)

    async def _metered(self, source: AudioSource) -> AsyncIterator[Pcm]:
        async with contextlib.aclosing(source.blocks()) as blocks:
            async for block in blocks:
                self.level.setValue(int(measure(block).fraction * 100))
                yield block

    def _recording(self, on: bool, why_not_live: str = "") -> None:
        self.level.setVisible(on)
        self.level.setValue(0)
        self.record_button.setText("■ Stop" if on else "● Record")
        if on:
            self.text.clear()
            self.details.setText("Recording the microphone")
            self._partial_at = 0
            self.status.say(f"Recording… {why_not_live or 'press Stop to end.'}")
            self.status.setToolTip("")
        else:
            self._microphone = None
            self.record_button.setChecked(False)
            self._show_selected()  # the live words give way to the take kept, or to the last one

    def _show_live(self, update: LiveUpdate) -> None:
        """Final words in the text's colour, then the partial guess in a lighter one."""
        cursor = QTextCursor(self.text.document())
        cursor.setPosition(self._partial_at)
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()  # the last guess: this update's guess replaces it
        cursor.insertText(_words(cursor, update.final), QTextCharFormat())
        if update.ended:
            cursor.insertText("\n", QTextCharFormat())  # one utterance a line
        self._partial_at = cursor.position()
        guess = QTextCharFormat()
        guess.setForeground(self.palette().color(QPalette.ColorRole.PlaceholderText))
        cursor.insertText(_words(cursor, update.partial), guess)
        self.live_updates += bool(update.final or update.partial)

    async def add_to_dataset(self) -> None:
        """The selected transcript becomes a candidate example, answered later in Dataset."""
        entry = self.selected()
        if entry is None or not entry.transcript.text:
            self.status.say("Select a transcript with words in it first.", error=True)
            return
        dataset = self.services.settings.discord.dataset
        example = NewExample(
            {"messages": [{"role": "user", "content": entry.transcript.text}]},
            origin=Origin.DESKTOP_TRANSCRIPT,
            note=f"from {entry.source}; write the answer in the Dataset page",
        )
        (example_id,) = await self.services.datasets.add(dataset, [example])
        self.status.say(f"Added as candidate #{example_id} to '{dataset}'.")

    # --- asking the assistant ---------------------------------------------------------------

    async def ask(self, *, use_transcript: bool = False) -> None:
        """Send typed text (or the selected transcript) to the assistant; show and speak it."""
        entry = self.selected()
        typed = text = self.question.text().strip()
        if use_transcript and entry is not None:
            text = entry.transcript.text if not text else f"{text}\n\n{entry.transcript.text}"
        if not text:
            self.status.say("Type a question or select a transcript first.", error=True)
            return
        self.conversation.appendPlainText(f"You: {text}")
        self.question.clear()
        try:
            reply = await self.services.assistant.reply("desktop", text)
        except VoxdeskError as error:
            self.status.fail(error)
            if not self.question.text():  # nothing typed is lost: Ask again once it is fixed
                self.question.setText(typed)
            return
        self.conversation.appendPlainText(f"Assistant: {reply.text}\n")
        if self.speak_replies.isChecked() and (said := speakable(reply.text)):
            await self._speak(said)

    async def _speak(self, text: str) -> None:
        settings = self.services.settings.tts
        try:  # the preferred voice, or the next that can speak
            speech = await self.services.voice.synthesize(
                text, language=settings.language, output="wav"
            )
            await play(await self.services.speech.decode(speech.data, name="the reply"))
        except VoxdeskError as error:
            self.status.say(f"Not spoken: {user_message(error)}", error=True)

    # --- selection ------------------------------------------------------------------------------

    def selected(self) -> Entry | None:
        index = self.list.currentIndex()
        entry = (
            self.history.data(index, TranscriptHistory.TranscriptRole) if index.isValid() else None
        )
        return entry if isinstance(entry, Entry) else None

    def _show_selected(self) -> None:
        entry = self.selected()
        self.text.setPlainText(entry.transcript.text if entry else "")
        if entry is None:
            self.details.clear()
            return
        transcript = entry.transcript
        model = f" {transcript.model}" if transcript.model else ""
        self.details.setText(
            f"{entry.source} · {transcript.engine}{model} · {transcript.language or '?'} · "
            f"{transcript.timings.audio_seconds:.1f} s of audio · {entry.at[:16].replace('T', ' ')}"
        )

    def edit_selected(self) -> None:
        """The selected transcript in the editor (kept in the history as it is edited)."""
        entry = self.selected()
        if entry is None:
            self.status.say("Select a transcript to edit.", error=True)
            return
        self.editor = open_editor(self.services, self.history, entry)

    def copy_selected(self) -> None:
        entry = self.selected()
        if entry is None:
            self.status.say("Select a transcript to copy.", error=True)
            return
        QGuiApplication.clipboard().setText(entry.transcript.text)
        self.status.say("Copied.")

    def export_selected(self, path: Path | None = None) -> None:
        entry = self.selected()
        if entry is None:
            self.status.say("Select a transcript to export.", error=True)
            return
        if path is None:
            name, chosen = QFileDialog.getSaveFileName(
                self,
                "Export transcript",
                Path(entry.source).stem,
                ";;".join(EXPORT_FILTERS.values()),
            )
            if not name:
                return
            path = Path(name)
            if not path.suffix:
                chosen_format = next(k for k, v in EXPORT_FILTERS.items() if v == chosen)
                path = path.with_suffix(f".{chosen_format}")
        suffix = path.suffix.lstrip(".")
        fmt = cast(OutputFormat, suffix if suffix in EXPORT_FILTERS else "txt")
        path.write_text(render(entry.transcript, fmt), encoding="utf-8")
        self.status.say(f"Exported to {path}.")

    # --- helpers --------------------------------------------------------------------------------

    async def shutdown(self) -> None:
        await self.model.shutdown()  # a download under way
        await self.queue.close()
        if self._microphone is not None:
            self._microphone.stop()
        if self._job is not None:
            self._job.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._job


def _words(cursor: QTextCursor, words: Iterable[Word]) -> str:
    """The words as text to insert at the cursor, spaced from the text before it."""
    text = join_words(words)
    return word_gap(cursor.block().text()[: cursor.positionInBlock()], text) + text
