"""Playing a transcript's audio from any point, with the position as a Qt signal.

PySide6-Essentials has no QtMultimedia, so sound goes out through sounddevice (core's
``PlaybackStream``); a timer reads where it is, a few dozen times a second.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QObject, QTimer, Signal

from voxdesk.core.errors import VoxdeskError, user_message

TICK_MS = 40  # 25 position updates a second: smooth enough to follow words


class AudioOutput(Protocol):
    """Something that plays from a point and says where it is (``PlaybackStream``)."""

    @property
    def position(self) -> float: ...

    @property
    def playing(self) -> bool: ...

    def start(self, at: float) -> None: ...

    def stop(self) -> None: ...


class Player(QObject):
    positionChanged = Signal(float)
    playingChanged = Signal(bool)
    failed = Signal(str)  # one line: why it cannot play

    def __init__(self, output: AudioOutput | None = None) -> None:
        super().__init__()
        self._output = output
        self._position = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)

    @property
    def position(self) -> float:
        return self._position

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def set_output(self, output: AudioOutput) -> None:
        self.pause()
        self._output = output

    def seek(self, seconds: float) -> None:
        """Move to ``seconds``; playback, if on, goes on from there."""
        self._position = max(0.0, seconds)
        if self.playing:
            self._start()
        self.positionChanged.emit(self._position)

    def toggle(self) -> None:
        if self.playing:
            self.pause()
        else:
            self.play()

    def play(self) -> None:
        if self._output is None:
            self.failed.emit("No audio to play: this transcript was not made from a file.")
            return
        if self._start():
            self._timer.start()
            self.playingChanged.emit(True)

    def pause(self) -> None:
        if not self.playing or self._output is None:
            return
        self._timer.stop()
        self._position = self._output.position
        self._output.stop()
        self.playingChanged.emit(False)

    def _start(self) -> bool:
        assert self._output is not None
        try:
            self._output.start(self._position)
        except VoxdeskError as error:
            if self.playing:
                self._timer.stop()
                self.playingChanged.emit(False)
            self.failed.emit(user_message(error))
            return False
        return True

    def _tick(self) -> None:
        assert self._output is not None
        self._position = self._output.position
        self.positionChanged.emit(self._position)
        if not self._output.playing:  # played to the end
            self._timer.stop()
            self._output.stop()
            self.playingChanged.emit(False)
