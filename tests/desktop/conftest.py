"""Qt offscreen, one qasync loop per test (closed in teardown), isolated QSettings."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import qasync
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from voxdesk.core.config import SecretStore, Settings
from voxdesk.core.services import Services
from voxdesk.desktop.app import cancel_leftover_tasks


def pytest_runtest_logfinish() -> None:
    """Collect each test's garbage on the main thread once its fixtures and arguments are gone.

    Its Qt objects caught in reference cycles (its closed qasync loop, whose Qt timers are still
    registered; models without a parent) are then destroyed here. Left to Python's collector,
    they are freed by whichever thread next trips it, often a worker of a later test: Qt cannot
    unregister their timers from there, and the next one to fire hits freed memory (a segfault in
    the event loop, seen in test runs).
    """
    gc.collect()


@pytest.fixture
def qloop(qapp: QApplication, qtbot: QtBot, tmp_path: Path) -> Iterator[asyncio.AbstractEventLoop]:
    """A qasync loop for one test, closed after it.

    pytest-qt closes and deletes the test's widgets in its teardown hook, before any fixture is
    finalized: by the time this loop runs its last callbacks, the widgets are gone. Depending on
    qtbot keeps this fixture's teardown ahead of qtbot's own.
    """
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qt"))
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    yield loop
    loop.run_until_complete(cancel_leftover_tasks())
    loop.close()  # waits for the executor's threads; unclosed, Qt warns at exit
    asyncio.set_event_loop(None)


@pytest.fixture
def services(tmp_path: Path) -> Services:
    return Services(Settings(), SecretStore({}), settings_path=tmp_path / "settings.toml")
