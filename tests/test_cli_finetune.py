"""`voxdesk finetune start` refuses what OpenAI would refuse, before uploading anything."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.test_cli import assert_one_line_error, voxdesk
from tests.test_cli_training import environment, write_training


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAI]:
    fake = await FakeOpenAI().start()
    yield fake
    await fake.stop()


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--beta", "0.5"], ["Beta applies only to the dpo method", "Leave beta out"]),
        (["--method", "dpo", "--beta", "5"], ["beta 5 is out of range", "at most 2"]),
        (["--learning-rate-multiplier", "0"], ["learning rate multiplier 0", "above 0"]),
        (["--batch-size", "300"], ["batch size 300", "1 to 256"]),
        (["--suffix", "x" * 65], ["The suffix has 65 characters"]),
        (["--seed", "-1"], ["seed -1 is out of range"]),
    ],
)
async def test_out_of_range_options_are_one_line_and_upload_nothing(
    server: FakeOpenAI, tmp_path: Path, options: list[str], words: list[str]
) -> None:
    data = tmp_path / "train.jsonl"
    write_training(data)
    run = await voxdesk("finetune", "start", "--file", str(data), "--yes", *options,
                        env=environment(server))  # fmt: skip
    assert_one_line_error(run, *words)
    assert server.exchanges == []
