"""The application: Qt and asyncio on one loop (qasync), the window, and the bot beside it."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import qasync
from PySide6.QtCore import QSocketNotifier
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from voxdesk.core.config import SecretStore, Settings
from voxdesk.core.services import Services
from voxdesk.core.startup import (
    freeze_start_up_objects,
    import_openai_ahead,
    load_token_table,
)
from voxdesk.desktop.instance import WindowInstance
from voxdesk.desktop.window import MainWindow

ICON = Path(__file__).parents[1] / "resources" / "icons" / "voxdesk.svg"


def create_application() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setApplicationName("Voxdesk")
    app.setOrganizationName("Voxdesk")
    app.setWindowIcon(QIcon(str(ICON)))
    return app


def run_app(
    settings: Settings,
    secrets: SecretStore,
    settings_path: Path,
    *,
    instance: WindowInstance | None = None,
    files: Sequence[Path] = (),
) -> None:
    """Run the window until it closes; ``instance`` brings it forward for later launches."""
    app = create_application()
    # Qt must not end its event loop by itself when the window closes: that loop is the asyncio
    # loop, and stopping it under a running coroutine aborts the shutdown with a RuntimeError.
    # The window closing (or a signal) asks for the end; the shutdown runs; then the loop ends.
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    services = Services(settings, secrets, settings_path=settings_path)
    window = MainWindow(services)
    closed = asyncio.Event()
    app.lastWindowClosed.connect(closed.set)
    stop_on_signals(app, closed.set)

    if instance is not None:
        instance.listen(window.bring_forward)

    async def main() -> None:
        load_token_table(secrets, settings.assistant.model)  # holds the GIL: before the window
        window.show()
        window.transcribe(list(files))
        await window.start()
        freeze_start_up_objects()  # the window and the bot are up: what is alive now stays
        await import_openai_ahead(secrets)
        await closed.wait()
        if instance is not None:
            instance.stop_listening()
        window.close()  # a signal ends the app with the window still open: save its place
        await window.shutdown()
        await services.close()
        await cancel_leftover_tasks()

    with loop:
        loop.run_until_complete(main())


def stop_on_signals(app: QApplication, stop: Callable[[], None]) -> None:
    """Make SIGINT and SIGTERM end the app as closing its window does.

    Python runs signal handlers only between bytecodes, and Qt's event loop may sleep in C++ for
    as long as nothing happens: the handler writes to a socket that Qt watches, which wakes it.
    """
    sockets = socket.socketpair()  # the handler below keeps both alive as long as the app
    reader, writer = sockets
    for end in sockets:
        end.setblocking(False)
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read, app)

    def on_wakeup() -> None:
        with contextlib.suppress(OSError):
            sockets[0].recv(64)
        stop()

    notifier.activated.connect(on_wakeup)
    signal.set_wakeup_fd(writer.fileno())
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: None)  # the wake-up byte does the work


async def cancel_leftover_tasks() -> None:
    """What asyncio.run does before it closes its loop, which qasync's loop does not do.

    discord.py still schedules tasks while it disconnects (voice state handlers); destroyed
    pending when the loop closes, they warn of coroutines never awaited. Cancelled, they end.
    """
    current = asyncio.current_task()
    leftovers = [task for task in asyncio.all_tasks() if task is not current]
    for task in leftovers:
        task.cancel()
    await asyncio.gather(*leftovers, return_exceptions=True)
