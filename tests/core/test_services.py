"""Services.close: every part that was opened is closed, even when another part fails."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.fakes.openai_server import API_KEY
from voxdesk.core.config import SecretStore, Settings
from voxdesk.core.services import Services


def services(tmp_path: Path) -> Services:
    secrets = SecretStore({"OPENAI_API_KEY": API_KEY})
    return Services(Settings(), secrets, database_path=tmp_path / "voxdesk.db")


async def open_database(made: Services) -> Path:
    """Open the database; while it is open, SQLite keeps a write-ahead log beside it."""
    await made.database.run(lambda connection: connection.execute("SELECT 1"))
    wal = made.database.path.with_name(made.database.path.name + "-wal")
    assert wal.exists()
    return wal


async def test_closing_the_services_closes_the_fine_tuners_client(tmp_path: Path) -> None:
    made = services(tmp_path)
    client = made.fine_tuner.client
    await made.close()
    assert client.is_closed()


async def test_a_part_that_fails_to_close_leaves_the_others_closed_and_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = services(tmp_path)

    async def failing() -> None:
        raise OSError(f"connection reset while closing, key {API_KEY}")

    monkeypatch.setattr(made.assistant, "close", failing)
    client, wal = made.fine_tuner.client, await open_database(made)
    with caplog.at_level(logging.WARNING):
        await made.close()  # quitting goes on: no error comes out of it
    assert client.is_closed() and not wal.exists()
    [record] = [r for r in caplog.records if r.name == "voxdesk.core.services"]
    assert record.levelno == logging.WARNING and record.exc_info is None  # a line, no traceback
    assert record.getMessage().startswith("Could not close the assistant: connection reset")
    assert API_KEY not in record.getMessage()
