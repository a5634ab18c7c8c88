"""The application: Qt and asyncio on one loop (qasync), the window, and the bot beside it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import qasync
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from voxdesk.core.config import SecretStore, Settings
from voxdesk.core.services import Services
from voxdesk.desktop.window import MainWindow

ICON = Path(__file__).parents[1] / "resources" / "icons" / "voxdesk.svg"


def create_application() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setApplicationName("Voxdesk")
    app.setOrganizationName("Voxdesk")
    app.setWindowIcon(QIcon(str(ICON)))
    return app


def run_app(settings: Settings, secrets: SecretStore, settings_path: Path) -> None:
    app = create_application()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    services = Services(settings, secrets, settings_path=settings_path)
    window = MainWindow(services)
    closed = asyncio.Event()
    app.aboutToQuit.connect(closed.set)

    async def main() -> None:
        window.show()
        await window.start()
        await closed.wait()
        await window.shutdown()
        await services.close()
        await cancel_leftover_tasks()

    with loop:
        loop.run_until_complete(main())


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
