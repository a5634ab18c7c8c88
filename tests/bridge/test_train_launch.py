"""!train goes through core's launch: a validation file is uploaded, and the job's progress
is published on the bus for the window."""

from __future__ import annotations

from tests.bridge.conftest import Running, next_event
from tests.bridge.test_training import training_jsonl
from voxdesk.core.events import JobUpdated
from voxdesk.core.training.store import NewExample, Status


async def test_train_from_the_dataset_holds_out_a_validation_file(running: Running) -> None:
    fake, server = running.discord, running.openai
    rows = [{"messages": [{"role": "user", "content": f"Вопрос {i}?"},
                          {"role": "assistant", "content": f"Ответ {i}."}]}
            for i in range(20)]  # fmt: skip
    examples = [NewExample(row, status=Status.APPROVED) for row in rows]
    await running.services.datasets.add("discord", examples)
    await fake.post(fake.trainer, "!train")
    started = await fake.wait_for(lambda m: m["content"].startswith("Started fine-tuning job"))
    job_id = next(iter(server.jobs))
    sent = server.jobs[job_id].body
    assert sent["validation_file"] and "18 examples" in started["content"]
    lines = [len(server.file_contents[sent[key]].splitlines())
             for key in ("training_file", "validation_file")]  # fmt: skip
    assert lines == [18, 2]  # a tenth of the dataset, held out
    update = await next_event(running, JobUpdated)
    assert update.job_id == job_id
    while not (update.job_id == job_id and update.status == "succeeded"):
        update = await next_event(running, JobUpdated)
    assert update.fine_tuned_model == server.jobs[job_id].fine_tuned_model


async def test_train_with_two_attachments_uploads_the_second_to_validate(
    running: Running,
) -> None:
    fake, server = running.discord, running.openai
    attachments = [
        fake.attachment(training_jsonl(12), "train.jsonl", "application/jsonl"),
        fake.attachment(training_jsonl(3), "valid.jsonl", "application/jsonl"),
    ]
    await fake.post(fake.trainer, "!train", attachments=attachments)
    await fake.wait_for(lambda m: m["content"].startswith("Started fine-tuning job"))
    sent = next(iter(server.jobs.values())).body
    assert server.file_contents[sent["training_file"]] == training_jsonl(12)
    assert server.file_contents[sent["validation_file"]] == training_jsonl(3)
