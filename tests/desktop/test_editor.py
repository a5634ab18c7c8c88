"""The transcript editor: edits, undo, search, playback following the words, saving."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import srt
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView
from pytestqt.qtbot import QtBot

from voxdesk.core.audio import Pcm
from voxdesk.core.services import Services
from voxdesk.core.stt import Segment, Timings, Transcript
from voxdesk.core.stt.base import Word
from voxdesk.core.stt.formats import render
from voxdesk.desktop.editor import TranscriptEditor
from voxdesk.desktop.editor.model import Column
from voxdesk.desktop.history import TranscriptHistory
from voxdesk.desktop.pages.record import RecordPage


def timed(start: float, text: str, unsure: str = "") -> Segment:
    """A segment with a word every half second; ``unsure`` is heard with low probability."""
    words = tuple(
        Word(start + n * 0.5, start + n * 0.5 + 0.4, token, 0.2 if token == unsure else 0.95)
        for n, token in enumerate(text.split())
    )
    return Segment(start, words[-1].end, text, words)


SEGMENTS = (
    timed(0.0, "hello there my friend"),
    timed(3.0, "general kenobi you are a bold one", unsure="bold"),
    timed(8.0, "kill him"),
)
TRANSCRIPT = Transcript(
    " ".join(s.text for s in SEGMENTS), "en", "whisper", Timings(10.0, 1.0), segments=SEGMENTS
)


class FakeOutput:
    """A sound card that plays nothing; the test moves its clock."""

    def __init__(self, audio: Pcm) -> None:
        self.position, self.playing, self.starts = 0.0, False, list[float]()

    def start(self, at: float) -> None:
        self.position, self.playing = at, True
        self.starts.append(at)

    def stop(self) -> None:
        self.playing = False


@pytest.fixture
def history(tmp_path: Path) -> TranscriptHistory:
    history = TranscriptHistory(tmp_path / "history.json")
    history.add("kenobi.wav", TRANSCRIPT)
    return history


@pytest.fixture
def editor(qtbot: QtBot, history: TranscriptHistory) -> TranscriptEditor:
    editor = TranscriptEditor(history, history.entries[0], output=FakeOutput)
    qtbot.addWidget(editor)
    editor.use_audio(Pcm(bytes(320_000)))
    editor.show()
    return editor


def texts(editor: TranscriptEditor) -> list[str]:
    return [segment.text for segment in editor.table.segments]


def select_rows(editor: TranscriptEditor, *rows: int) -> None:
    editor.view.clearSelection()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    for row in rows:
        editor.view.selectionModel().select(editor.table.index(row, 0), flags)


def test_text_is_edited_in_place_undone_and_redone(editor: TranscriptEditor) -> None:
    index = editor.table.index(0, Column.TEXT)
    assert editor.table.setData(index, "hello there my fiend")
    edited = editor.table.segments[0]
    assert edited.text == "hello there my fiend"
    assert edited.words[3].start == SEGMENTS[0].words[3].start  # the word keeps its time
    editor.undo_button.click()
    assert editor.table.segments[0] == SEGMENTS[0]
    editor.redo_button.click()
    assert editor.table.segments[0] == edited
    assert editor.table.setData(editor.table.index(1, Column.SPEAKER), "Obi-Wan")
    assert editor.table.data(editor.table.index(1, Column.SPEAKER)) == "Obi-Wan"
    assert editor.undo_stack.count() == 2


def test_split_at_the_word_played_and_merge_back(editor: TranscriptEditor) -> None:
    editor.player.seek(4.1)  # "you", the third word of the second segment
    editor.split_button.click()
    assert texts(editor) == ["hello there my friend", "general kenobi", "you are a bold one",
                             "kill him"]  # fmt: skip
    assert editor.table.segments[2].start == pytest.approx(4.0)
    select_rows(editor, 1, 2)
    editor.merge_button.click()
    assert editor.table.segments == list(SEGMENTS)
    editor.undo_button.click()
    assert len(editor.table.segments) == 4
    editor.undo_button.click()
    assert editor.table.segments == list(SEGMENTS)
    editor.view.setCurrentIndex(editor.table.index(0, Column.TEXT))  # not the one being played
    editor.split_button.click()
    assert texts(editor)[:2] == ["hello there", "my friend"]  # cut in the middle


def test_shift_moves_only_the_selected_segments(editor: TranscriptEditor) -> None:
    select_rows(editor, 2)
    editor.shift_seconds.setValue(1.25)
    editor.shift_button.click()
    assert [s.start for s in editor.table.segments] == [0.0, 3.0, 9.25]
    assert editor.table.segments[2].words[0].start == 9.25
    assert editor.table.data(editor.table.index(2, Column.START)) == "0:00:09.25"
    editor.undo_button.click()
    assert editor.table.segments[2] == SEGMENTS[2]


def test_search_selects_each_match_in_turn(editor: TranscriptEditor, qtbot: QtBot) -> None:
    qtbot.keyClicks(editor.search, "KENOBI")
    assert editor.matches.text() == "1 found"
    qtbot.keyClick(editor.search, Qt.Key.Key_Return)
    assert editor.view.currentIndex().row() == 1
    editor.search.clear()
    qtbot.keyClicks(editor.search, "k")  # in rows 1 and 2 ("kenobi", "kill him")
    qtbot.keyClick(editor.search, Qt.Key.Key_Return)
    assert (editor.view.currentIndex().row(), editor.matches.text()) == (2, "2 of 2")
    qtbot.keyClick(editor.search, Qt.Key.Key_Return)
    assert editor.view.currentIndex().row() == 1  # wrapped around


def test_clicking_a_row_or_a_word_seeks_there(editor: TranscriptEditor, qtbot: QtBot) -> None:
    cell = editor.view.visualRect(editor.table.index(2, Column.TEXT)).center()
    qtbot.mouseClick(editor.view.viewport(), Qt.MouseButton.LeftButton, pos=cell)
    assert editor.player.position == 8.0
    assert editor.view.currentIndex().row() == 2
    cursor = editor.words.document().find("him")
    cursor.setPosition(cursor.selectionStart() + 1)
    spot = editor.words.cursorRect(cursor).center()
    qtbot.mouseClick(editor.words.viewport(), Qt.MouseButton.LeftButton, pos=spot)
    assert editor.player.position == 8.5


def test_playback_follows_rows_and_highlights_the_word(
    editor: TranscriptEditor, qtbot: QtBot
) -> None:
    editor.play_button.click()
    output = editor.player._output
    assert isinstance(output, FakeOutput) and output.starts == [0.0]
    output.position = 5.1  # the fifth word of the second segment: "a"
    qtbot.waitUntil(lambda: editor.view.currentIndex().row() == 1)
    qtbot.waitUntil(lambda: highlighted(editor) == "a")
    output.playing = False  # played to the end
    qtbot.waitUntil(lambda: editor.play_button.text() == "▶ Play")


def highlighted(editor: TranscriptEditor) -> str:
    return "".join(
        text
        for text, form in fragments(editor)
        if form.background().style() != Qt.BrushStyle.NoBrush
    )


def fragments(editor: TranscriptEditor) -> list[tuple[str, object]]:
    found = []
    block = editor.words.document().begin()
    while block.isValid():
        iterator = block.begin()
        while not iterator.atEnd():
            fragment = iterator.fragment()
            found.append((fragment.text(), fragment.charFormat()))
            iterator += 1
        block = block.next()
    return found


def test_low_confidence_words_are_marked(editor: TranscriptEditor) -> None:
    unsure = editor.table.index(1, Column.TEXT)
    assert editor.table.data(unsure, Qt.ItemDataRole.ToolTipRole) == "Check: bold"
    assert isinstance(editor.table.data(unsure, Qt.ItemDataRole.BackgroundRole), QColor)
    assert (
        editor.table.data(editor.table.index(0, Column.TEXT), Qt.ItemDataRole.BackgroundRole)
        is None
    )
    editor.view.setCurrentIndex(unsure)
    marked = {text for text, form in fragments(editor) if form.fontUnderline()}
    assert marked == {"bold"}
    editor.table.setData(unsure, "general kenobi you are a bald one")  # checked by a person
    assert editor.table.data(unsure, Qt.ItemDataRole.ToolTipRole) is None


async def test_edits_are_saved_in_the_history_and_exported(
    editor: TranscriptEditor, history: TranscriptHistory, services: Services, qtbot: QtBot,
    qloop: asyncio.AbstractEventLoop, tmp_path: Path,
) -> None:  # fmt: skip
    editor.table.setData(editor.table.index(2, Column.TEXT), "kill him now")
    qtbot.waitUntil(lambda: history.entries[0].transcript.segments[2].text == "kill him now")
    history.flush()
    reopened = TranscriptHistory(history.path).entries[0].transcript
    assert reopened.text.endswith("bold one kill him now")
    assert reopened.segments[1].words[5].probability == 0.2
    page = RecordPage(services, history)
    qtbot.addWidget(page)
    page.export_selected(tmp_path / "out.srt")
    assert "kill him now" in (tmp_path / "out.srt").read_text(encoding="utf-8")
    assert render(reopened, "srt") == (tmp_path / "out.srt").read_text(encoding="utf-8")


def test_a_history_edited_into_nonsense_is_one_line_and_kept(tmp_path: Path) -> None:
    good = TranscriptHistory(tmp_path / "history.json")
    good.add("a.wav", TRANSCRIPT)
    good.add("b.wav", TRANSCRIPT)
    data = json.loads(good.path.read_text(encoding="utf-8"))
    data[1]["transcript"]["segments"][0]["words"][2]["start"] = "soon"
    broken = json.dumps(data)
    good.path.write_text(broken, encoding="utf-8")
    history = TranscriptHistory(good.path)
    assert [entry.source for entry in history.entries] == ["b.wav"]
    assert history.problem is not None and "\n" not in history.problem
    assert "entry 2: transcript.segments.0.words.2.start: Input should be a valid number" in (
        history.problem
    )
    (kept,) = tmp_path.glob("history.unreadable-*.json")
    assert kept.read_text(encoding="utf-8") == broken and str(kept) in history.problem


def test_a_history_that_is_not_json_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    path.write_text("[{ this is not json", encoding="utf-8")
    history = TranscriptHistory(path)
    assert history.entries == [] and history.problem is not None
    assert "it is not JSON" in history.problem and "\n" not in history.problem


@pytest.mark.slow
async def test_a_file_transcribed_in_the_record_page_opens_in_the_editor_with_its_words(
    services: Services, qtbot: QtBot, qloop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    from tests.conftest import clip

    page = RecordPage(services, TranscriptHistory(tmp_path / "history.json"))
    qtbot.addWidget(page)
    page.engine.setCurrentText("whisper")
    await page.transcribe_files([clip("pocketsphinx_librivox_0870.wav").path])
    entry = page.selected()
    assert entry is not None and entry.audio.endswith("pocketsphinx_librivox_0870.wav")
    index = page.history.index(0)
    page.list.doubleClicked.emit(index)
    editor = page.editor
    qtbot.addWidget(editor)
    for _ in range(200):  # the audio is decoded for playback in the background
        if editor.play_button.isEnabled():
            break
        await asyncio.sleep(0.05)
    assert editor.play_button.isEnabled(), editor.status.text()
    assert editor.table.segments[0].words[0].text.lower() == "and"
    editor.table.setData(editor.table.index(0, Column.SPEAKER), "Narrator")
    editor.table.setData(editor.table.index(0, Column.TEXT), "And Mister John Dashwood")
    editor.save()
    selected = page.selected()
    assert selected is not None and selected.transcript.segments[0].speaker == "Narrator"
    assert page.text.toPlainText().startswith("And Mister John Dashwood")  # shown as edited
    assert page.history.rowCount() == 1


def test_the_record_page_says_when_the_history_could_not_be_read(
    services: Services, qtbot: QtBot, tmp_path: Path
) -> None:
    path = tmp_path / "history.json"
    path.write_text('{"not": "a list"}', encoding="utf-8")
    page = RecordPage(services, TranscriptHistory(path))
    qtbot.addWidget(page)
    assert page.status.text().startswith("The transcript history could not all be read")


def test_subtitles_export_the_edits_cut_to_the_limits(
    editor: TranscriptEditor, tmp_path: Path
) -> None:
    editor.table.setData(editor.table.index(2, Column.TEXT), "kill him now")
    editor.line_length.setValue(12)
    editor.cue_seconds.setValue(1.0)
    editor.export(tmp_path / "out.srt")
    cues = list(srt.parse((tmp_path / "out.srt").read_text(encoding="utf-8")))
    said = " ".join(cue.content.replace("\n", " ") for cue in cues)
    assert said == "hello there my friend general kenobi you are a bold one kill him now"
    assert all(len(line) <= 12 for cue in cues for line in cue.content.splitlines())
    assert all((cue.end - cue.start).total_seconds() <= 1.0 for cue in cues)
    editor.export(tmp_path / "missing" / "out.srt")
    assert editor.status.text().startswith("Not exported: No such file or directory")


def test_playback_leaves_a_text_being_typed_alone(editor: TranscriptEditor, qtbot: QtBot) -> None:
    index = editor.table.index(0, Column.TEXT)
    editor.view.setCurrentIndex(index)
    editor.view.edit(index)
    editor.play_button.click()
    output = editor.player._output
    assert isinstance(output, FakeOutput)
    output.position = 5.1
    qtbot.waitUntil(lambda: highlighted(editor) == "a")
    assert editor.view.state() == QAbstractItemView.State.EditingState
    assert editor.view.currentIndex().row() == 0
