"""`voxdesk finetune`: refusing what OpenAI would refuse before uploading anything; giving up,
or waiting and saying so, when OpenAI cannot be reached; help that says what a job id is."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.core.training.test_finetune import closed_port
from tests.fakes.openai_server import FakeOpenAI
from tests.test_cli import VOXDESK, assert_one_line_error, voxdesk
from tests.test_cli_training import environment, write_training

KEY = "sk-test-SECRET123"
UNREACHABLE = "OpenAI cannot be reached. Check the internet connection and openai.base_url."


def unreachable() -> dict[str, str]:
    return {
        "OPENAI_API_KEY": KEY,
        "VOXDESK_OPENAI__BASE_URL": f"http://127.0.0.1:{closed_port()}/v1",
        "VOXDESK_OPENAI__MAX_RETRIES": "0",  # the fine-tuner's own tries are what is tested
    }


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


@pytest.mark.parametrize("command", [["status", "ftjob-abc"], ["use", "ftjob-abc", "--step", "2"]])
async def test_a_one_shot_command_gives_up_when_openai_cannot_be_reached(
    command: list[str],
) -> None:
    async with asyncio.timeout(60):  # before the fix it retried without end, silently
        run = await voxdesk("finetune", *command, env=unreachable())
    assert_one_line_error(run, UNREACHABLE)
    assert KEY not in run.out + run.err


async def test_following_says_openai_cannot_be_reached_until_ctrl_c() -> None:
    process = await asyncio.create_subprocess_exec(
        VOXDESK, "finetune", "follow", "ftjob-abc",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **unreachable(), "VOXDESK_OPENAI__JOB_POLL_SECONDS": "60"},
    )  # fmt: skip
    assert process.stderr is not None
    try:
        async with asyncio.timeout(60):  # before the fix it waited without a word
            notice = (await process.stderr.readline()).decode()
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(30):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert notice.startswith(UNREACHABLE) and "Trying job ftjob-abc again in 6" in notice
    assert "Ctrl+C stops following" in notice
    assert process.returncode == 130
    assert err.decode().strip() == "Stopped." and out == b""
    assert KEY not in notice + err.decode()


@pytest.mark.parametrize("command", ["status", "cancel", "use"])
async def test_help_says_what_the_job_id_is(command: str) -> None:
    run = await voxdesk("finetune", command, "--help", env={"COLUMNS": "80"})
    assert run.code == 0
    assert "The job's id (ftjob-...; see finetune list)." in run.out
