"""The training workflow from the command line, against the loopback OpenAI server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.openai_server import API_KEY, FakeOpenAI
from tests.test_cli import assert_one_line_error, voxdesk


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAI]:
    fake = await FakeOpenAI(steps=2).start()
    yield fake
    assert fake.spec_problems() == []
    await fake.stop()


def environment(server: FakeOpenAI) -> dict[str, str]:
    return {
        "OPENAI_API_KEY": API_KEY,
        "VOXDESK_OPENAI__BASE_URL": server.base_url,
        "VOXDESK_OPENAI__JOB_POLL_SECONDS": "0.01",
    }


def write_training(path: Path, count: int = 12) -> None:
    rows = [{"messages": [{"role": "system", "content": "Be kind"},
                          {"role": "user", "content": f"Вопрос {i}?"},
                          {"role": "assistant", "content": f"Ответ {i}."}]}
            for i in range(count)]  # fmt: skip
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


async def test_import_validate_finetune_use_and_ask(server: FakeOpenAI, tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    write_training(data)
    env = environment(server)
    run = await voxdesk("dataset", "import", "bot", str(data))
    assert run.code == 0 and "Imported 12 examples into 'bot'" in run.out, run.err

    run = await voxdesk("dataset", "validate", str(data))
    assert run.code == 0 and "ready to upload" in run.out

    run = await voxdesk("finetune", "start", "--dataset", "bot", "--validation-split", "0.2",
                        "--suffix", "voxbot", "--yes", "--follow", env=env)  # fmt: skip
    assert run.code == 0, run.err
    assert "Estimated cost on gpt-4o-mini-2024-07-18" in run.out
    job_id = next(iter(server.jobs))
    assert f"Started fine-tuning job {job_id}" in run.out
    assert "succeeded → ft:gpt-4o-mini-2024-07-18:voxdesk-test:voxbot" in run.out
    assert "training loss=0.75" in run.out
    uploads = [len(content.splitlines()) for content in server.file_contents.values()]
    assert sorted(uploads) == [2, 10]  # a seeded 20 % validation split of 12 examples

    run = await voxdesk("finetune", "list")
    assert job_id in run.out and "succeeded" in run.out

    run = await voxdesk("finetune", "use", job_id, env=env)
    assert run.code == 0 and "Replies now use ft:" in run.out
    run = await voxdesk("ask", "Привет!", env=env)
    assert run.out.strip() == server.reply
    assert server.chat_requests[-1]["model"].startswith("ft:gpt-4o-mini-2024-07-18")


async def test_validate_reports_errors_with_line_numbers(tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    write_training(data, 3)
    with data.open("a") as out:
        out.write("{not json\n")
    run = await voxdesk("dataset", "validate", str(data), "--json")
    assert run.code == 1
    report = json.loads(run.out)
    assert report["format_errors"] == {"invalid_json": 1, "too_few_examples": 1}
    first, second = report["findings"][:2]  # about the whole file first, then line by line
    assert (first["line"], first["code"]) == (0, "too_few_examples")
    assert {"line": 4, "code": "invalid_json", "severity": "error"}.items() <= second.items()


async def test_start_refuses_a_file_with_errors_and_missing_key(tmp_path: Path) -> None:
    data = tmp_path / "few.jsonl"
    write_training(data, 3)
    run = await voxdesk("finetune", "start", "--file", str(data), "--yes")
    assert run.code == 1 and "has errors" in run.err
    write_training(data, 12)
    assert_one_line_error(await voxdesk("finetune", "start", "--file", str(data), "--yes"),
                          "No OpenAI API key")  # fmt: skip


async def test_ask_without_a_key_says_what_to_set() -> None:
    assert_one_line_error(await voxdesk("ask", "hi"), "OPENAI_API_KEY")


async def test_start_on_a_dataset_names_the_examples_to_fix(tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    write_training(data)
    with data.open("a") as out:
        out.write(json.dumps({"messages": [{"role": "user", "content": "no answer"}]}) + "\n")
    run = await voxdesk("dataset", "import", "bot", str(data))
    assert "line 13, example 13: no assistant message to learn from" in run.out, run.out
    assert (await voxdesk("dataset", "approve", "13")).code == 0  # approved all the same

    run = await voxdesk("finetune", "start", "--dataset", "bot", "--yes")
    assert run.code == 1
    assert run.err.strip() == (
        "error: The training data has errors, so no job was started: example 13 (no assistant "
        "message to learn from). Fix or reject those examples of 'bot' (`voxdesk dataset show "
        "bot`, the Dataset page), then start again."
    )
    assert "example 13: error example_missing_assistant_message" in run.out
    assert "line 1" not in run.out + run.err  # of a file the user never sees
