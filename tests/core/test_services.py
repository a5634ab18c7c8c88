"""Services: the fine-tuner follows a changed key, base URL or poll interval; close closes
every part that was opened, even when another part fails."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.conftest import MemoryKeyring
from tests.fakes.openai_server import API_KEY, FakeOpenAI
from voxdesk.core.config import Secret, SecretStore, Settings
from voxdesk.core.openai_client import OpenAIError
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


async def test_a_key_or_base_url_changed_while_running_reaches_the_next_fine_tune_request(
    server: FakeOpenAI, tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    """Changed in the window or by a command, not only after a restart; the old client is
    closed."""
    other = await FakeOpenAI().start()
    settings = Settings(openai={"base_url": server.base_url, "max_retries": 0})
    made = Services(settings, SecretStore(), database_path=tmp_path / "voxdesk.db",
                    settings_path=tmp_path / "settings.toml")  # fmt: skip
    await made.settings_store.store_secret(Secret.OPENAI_API_KEY, "sk-mistyped-0123456789abcdef")
    with pytest.raises(OpenAIError, match="rejected the API key"):
        await made.fine_tuner.list_jobs()
    rejected = made.fine_tuner.client
    await made.settings_store.store_secret(Secret.OPENAI_API_KEY, API_KEY)  # the key corrected
    await made.fine_tuner.list_jobs()
    first = made.fine_tuner.client
    await made.settings_store.set("openai.base_url", other.base_url)
    await made.fine_tuner.list_jobs()
    assert rejected.is_closed() and first.is_closed() and not made.fine_tuner.client.is_closed()
    listed = [len(fake.requests_to("GET", "/v1/fine_tuning/jobs")) for fake in (server, other)]
    assert listed == [1, 1]  # the rejected request got no answer but a 401
    await made.close()
    await other.stop()


async def test_a_poll_interval_changed_while_running_reaches_the_fine_tuner(
    tmp_path: Path,
) -> None:
    made = Services(Settings(), SecretStore(), database_path=tmp_path / "voxdesk.db",
                    settings_path=tmp_path / "settings.toml")  # fmt: skip
    assert made.fine_tuner.poll_seconds == Settings().openai.job_poll_seconds
    await made.settings_store.set("openai.job_poll_seconds", 42)
    assert made.fine_tuner.poll_seconds == 42
    await made.close()


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
