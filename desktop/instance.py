"""One window per profile: a second launch hands its files to the window already open.

The first window of a profile holds an operating-system lock (released when it dies, however it
dies) and listens on a local socket (a named pipe on Windows) whose name comes from the profile's
data folder. A later launch finds the lock held, connects, sends the files it was given as one
JSON line and waits for the window's "ok"; the window comes to the front and transcribes them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import filelock
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from voxdesk.core.errors import VoxdeskError

log = logging.getLogger(__name__)

ANSWER_SECONDS = 15.0  # a window that holds the lock may still be starting up
OK = b"ok\n"


class WindowInstance:
    """The single-window guard of the profile whose data folder is ``folder``."""

    def __init__(self, folder: Path) -> None:
        digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:20]
        self.name = f"voxdesk-{digest}"
        # In the temporary folder, not the data folder: a read-only or lockless data folder
        # must still get one window per profile.
        self._lock = filelock.FileLock(Path(tempfile.gettempdir()) / f"{self.name}.lock",
                                       thread_local=False, fallback_to_soft=False)  # fmt: skip
        self._server: QLocalServer | None = None

    def claim_or_hand_over(self, files: Sequence[Path]) -> bool:
        """True if this process is the profile's first window (it now holds the lock); False
        if ``files`` went to the window already open, which comes to the front."""
        message = json.dumps({"files": [str(path.resolve()) for path in files]}).encode() + b"\n"
        deadline = time.monotonic() + ANSWER_SECONDS
        while time.monotonic() < deadline:
            if self._claim():
                return True
            if self._send(message):
                return False
            time.sleep(0.1)  # the first window is starting up (or ending): ask again
        raise VoxdeskError(
            "Voxdesk is already open on this profile, but its window does not answer.",
            hint="Switch to it, or end that process if it hangs, then start Voxdesk again.",
        )

    def _claim(self) -> bool:
        try:
            self._lock.acquire(timeout=0)
        except filelock.Timeout:
            return False
        except OSError as error:  # no window lock here: better two windows than none
            log.warning("Voxdesk cannot tell whether it is open already: %s", error)
        return True

    def _send(self, message: bytes) -> bool:
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if not socket.waitForConnected(500):
            return False
        socket.write(message)
        socket.flush()
        answer = b""
        while OK not in answer and socket.waitForReadyRead(int(ANSWER_SECONDS * 1000)):
            answer += socket.readAll().data()
        socket.disconnectFromServer()
        return answer == OK

    def listen(self, on_files: Callable[[list[Path]], None]) -> None:
        """Take launches handed over from now on: ``on_files`` runs on the GUI thread for each."""
        server = QLocalServer()
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        QLocalServer.removeServer(self.name)  # a socket file left by a crash (we hold the lock)
        if not server.listen(self.name):
            log.warning("A second launch cannot reach this window: %s", server.errorString())
            return
        server.newConnection.connect(lambda: self._accept(server, on_files))
        self._server = server

    def _accept(self, server: QLocalServer, on_files: Callable[[list[Path]], None]) -> None:
        while (socket := server.nextPendingConnection()) is not None:
            received = bytearray()

            def read(socket: QLocalSocket = socket, received: bytearray = received) -> None:
                received.extend(socket.readAll().data())
                if b"\n" not in received:
                    return
                socket.write(OK)
                socket.disconnectFromServer()
                on_files(_files_in(bytes(received)))

            socket.readyRead.connect(read)
            socket.disconnected.connect(socket.deleteLater)
            if socket.bytesAvailable():
                read()

    def stop_listening(self) -> None:
        """From now on a launch waits for this window to end, then opens its own: files handed
        to a window that is closing would be lost."""
        if self._server is not None:
            self._server.close()
            self._server = None

    def close(self) -> None:
        self.stop_listening()
        self._lock.release()


def _files_in(message: bytes) -> list[Path]:
    """The files a launch handed over; anything malformed is ignored (the window still rises)."""
    try:
        files = json.loads(message)["files"]
    except (ValueError, KeyError, TypeError):
        return []
    if not isinstance(files, list):
        return []
    return [Path(name) for name in files if isinstance(name, str)]
