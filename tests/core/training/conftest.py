"""Services that talk to the loopback OpenAI server (``server``, from tests/core/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.openai_server import API_KEY, FakeOpenAI
from voxdesk.core.config import SecretStore, Settings
from voxdesk.core.services import Services


@pytest.fixture
async def services(server: FakeOpenAI, tmp_path: Path) -> AsyncIterator[Services]:
    settings = Settings()
    settings.openai.base_url = server.base_url
    settings.openai.max_retries = 0
    made = Services(settings, SecretStore({"OPENAI_API_KEY": API_KEY}),
                    database_path=tmp_path / "voxdesk.db")  # fmt: skip
    yield made
    await made.close()
