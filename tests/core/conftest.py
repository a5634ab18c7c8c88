"""The loopback OpenAI server for core's tests; its traffic must keep to OpenAI's spec."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAI]:
    fake = await FakeOpenAI().start()
    yield fake
    assert fake.spec_problems() == []  # every exchange conformed to OpenAI's published spec
    await fake.stop()
