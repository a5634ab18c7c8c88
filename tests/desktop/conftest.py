"""Qt offscreen, one qasync loop per test (closed in teardown), isolated QSettings."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import qasync
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from core.config import SecretStore, Settings
from core.services import Services


@pytest.fixture
def qloop(qapp: QApplication, tmp_path: Path) -> Iterator[asyncio.AbstractEventLoop]:
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qt"))
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    yield loop
    loop.run_until_complete(asyncio.sleep(0))  # let finished tasks settle
    loop.close()  # otherwise Qt warns "Signal source has been deleted" at exit
    asyncio.set_event_loop(None)


@pytest.fixture
def services(tmp_path: Path) -> Services:
    return Services(Settings(), SecretStore({}), settings_path=tmp_path / "settings.toml")
