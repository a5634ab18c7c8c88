"""Qt objects live and die on the main thread, and the Qt binding keeps Python's books."""

from __future__ import annotations

import sys
import threading
import weakref
from pathlib import Path

from PySide6.QtWidgets import QApplication, QLabel

from voxdesk.core.stt import Timings, Transcript
from voxdesk.desktop.history import TranscriptHistory


def test_the_history_is_destroyed_on_the_thread_that_lets_it_go(tmp_path: Path) -> None:
    # Qt must destroy a QObject on its own thread; the writer thread must hold no reference
    # that could turn out to be the model's last one
    history = TranscriptHistory(tmp_path / "h.json")
    history.add("a.wav", Transcript("one", "en", "whisper", Timings(1.0, 0.1)))
    writer, release = history._writer, threading.Event()
    writer.submit(release.wait)  # the writer is busy: the edit's save waits behind it
    history.replace(history.entries[0], Transcript("two", "en", "whisper", Timings(1.0, 0.1)))
    freed_in: list[threading.Thread] = []
    _ = weakref.ref(history, lambda _: freed_in.append(threading.current_thread()))
    del history
    release.set()
    writer.shutdown(wait=True)
    assert freed_in == [threading.main_thread()]
    assert TranscriptHistory(tmp_path / "h.json").entries[0].transcript.text == "two"


def test_a_qt_call_that_returns_nothing_keeps_nones_reference_count(qapp: QApplication) -> None:
    # PySide6 6.12.0 on CPython 3.11 drops a reference to None on every such call: after some
    # hundred thousand (minutes of a meter or of playback) Python aborts, deallocating None
    label = QLabel()
    before = sys.getrefcount(None)
    for number in range(1000):
        label.setText(str(number))
    assert sys.getrefcount(None) - before > -100
