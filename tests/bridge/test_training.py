"""Training from Discord: who may, what each command stores, sends and refuses."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import discord
import pytest

from tests.bridge.conftest import Running
from voxdesk.bridge.cogs.training import exports_folder, help_text
from voxdesk.core.config import load_settings
from voxdesk.core.training.store import NewExample, Status


def training_jsonl(count: int) -> bytes:
    rows = [
        {
            "messages": [
                {"role": "system", "content": "Be kind"},
                {"role": "user", "content": f"Вопрос {i}?"},
                {"role": "assistant", "content": f"Ответ {i}."},
            ]
        }
        for i in range(count)
    ]
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()  # fmt: skip


async def test_training_commands_need_the_trainer_role(running: Running) -> None:
    fake = running.discord
    for command in ("!train", "!archive", "!select_dataset x", "!getfile", "!instruction set hi"):
        await fake.post(fake.member, command)
    refusals = await collect(running, lambda m: "Manage Server" in m["content"], 5)
    assert sum("This command needs the 'Trainer' role" in m["content"] for m in refusals) == 4
    assert sum("Changing my instruction needs the 'Trainer' role" in m["content"]
               for m in refusals) == 1  # fmt: skip


async def collect(
    running: Running, predicate: Callable[[dict[str, Any]], bool], count: int
) -> list[dict[str, Any]]:
    """Every bot message matching ``predicate``, once at least ``count`` have arrived."""
    fake = running.discord
    await fake.wait_for(lambda m: sum(1 for x in fake.bot_messages if predicate(x)) >= count
                        and predicate(m))  # fmt: skip
    return [m for m in fake.bot_messages if predicate(m)]


async def test_train_with_an_attachment_starts_and_announces_a_job(running: Running) -> None:
    fake = running.discord
    data = fake.attachment(training_jsonl(12), "data.jsonl", "application/jsonl")
    await fake.post(fake.trainer, "!train", attachments=[data])
    started = await fake.wait_for(lambda m: m["content"].startswith("Started fine-tuning job"))
    job_id = next(iter(running.openai.jobs))
    assert f"`{job_id}`" in started["content"] and "12 examples" in started["content"]
    typing = [e for e in fake.exchanges if e.method == "POST" and e.path.endswith("/typing")]
    assert typing  # "typing…" was shown while the file was checked and uploaded
    done = await fake.wait_for(lambda m: f"Fine-tune `{job_id}` succeeded" in m["content"])
    assert "ft:gpt-4o-mini-2024-07-18" in done["content"]
    record = await running.services.jobs.job(job_id)
    assert record is not None and record.status == "succeeded"


async def test_train_reports_problems_with_line_numbers(running: Running) -> None:
    fake = running.discord
    bad = training_jsonl(3) + b"{oops\n"
    await fake.post(fake.moderator, "!train", attachments=[fake.attachment(bad, "x.jsonl", None)])
    report = await fake.wait_for(lambda m: m["content"].startswith("The training data has errors"))
    assert "line 4 (not valid JSON" in report["content"] and "too_few_examples" in report["content"]
    assert not running.openai.jobs


async def test_correct_feedback_select_and_archive(running: Running) -> None:
    fake, store = running.discord, running.services.datasets
    question = await fake.post(fake.member, "Столица Франции?", channel=fake.chat)
    answer = await fake.wait_for(lambda m: m["content"] == running.openai.reply)
    await fake.post(fake.member, f"!correct {answer['id']} Париж.")
    await fake.wait_for(lambda m: "Saved as candidate" in m["content"])
    await fake.post(fake.member, "!feedback слишком коротко", channel=fake.chat)
    await fake.wait_for(lambda m: m["content"].startswith("Thanks for the feedback"))
    correction, feedback = await store.examples("discord", status=Status.CANDIDATE)
    assert correction.messages == [{"role": "user", "content": "Столица Франции?", "name": "bob"},
                                   {"role": "assistant", "content": "Париж."}]  # fmt: skip
    assert correction.metadata["rejected_reply"] == running.openai.reply
    assert feedback.note == "слишком коротко" and feedback.messages[-1]["role"] == "assistant"
    assert str(question) not in json.dumps(correction.messages)

    await fake.post(fake.member, "!correct 12345 nope")
    await fake.wait_for(lambda m: "no message with that id" in m["content"])
    await fake.post(fake.member, "!correct abc nope")  # was: 'Converting to "int" failed'
    await fake.wait_for(lambda m: m["content"].startswith("Give the id or link of one of my"))

    await fake.post(fake.trainer, "!select_dataset nothing-here")
    await fake.wait_for(lambda m: "There is no dataset 'nothing-here'" in m["content"])
    await store.set_status([correction.id], Status.APPROVED)
    await fake.post(fake.trainer, "!archive")
    archive = await fake.wait_for(lambda m: bool(m["attachments"]))
    assert archive["content"].startswith("'discord': 1 examples to train on in discord-")
    name = archive["attachments"][0]["filename"]
    assert name.startswith("discord-") and name.endswith(".jsonl") and "/" not in name

    await store.create_dataset("second")
    await fake.post(fake.trainer, "!select_dataset second")
    await fake.wait_for(lambda m: m["content"] == "Corrections and feedback now go to 'second'.")
    assert load_settings().discord.guild_datasets == {str(fake.guild_id): "second"}  # kept
    await fake.post(fake.member, "!feedback лучше", channel=fake.chat)
    await fake.wait_for(lambda m: "in 'second'" in m["content"])


async def test_getfile_serves_only_exported_names(running: Running) -> None:
    fake = running.discord
    await running.services.datasets.add_correction(
        "discord", conversation=[{"role": "user", "content": "q"}], wrong_reply="a",
        corrected_reply="b")  # fmt: skip
    examples = await running.services.datasets.examples("discord")
    await running.services.datasets.set_status([e.id for e in examples], Status.APPROVED)
    await fake.post(fake.moderator, "!archive")
    exported = (await fake.wait_for(lambda m: bool(m["attachments"])))["attachments"][0]
    await fake.post(fake.moderator, "!getfile")
    await fake.wait_for(lambda m: f"`{exported['filename']}`" in m["content"])
    for attempt in ("../../etc/passwd", "/etc/passwd", "..", "a/b.jsonl"):
        await fake.post(fake.moderator, f"!getfile {attempt}")
    refusals = await collect(running, lambda m: "looks like a path" in m["content"], 4)
    assert len(refusals) == 4
    await fake.post(fake.moderator, "!getfile missing.jsonl")
    await fake.wait_for(lambda m: "no exported file 'missing.jsonl'" in m["content"])
    await fake.post(fake.moderator, f"!getfile {exported['filename']}")
    sent = await collect(running, lambda m: bool(m["attachments"]), 2)
    assert sent[-1]["attachments"][0]["filename"] == exported["filename"]


async def test_instruction_help_and_editing(running: Running) -> None:
    fake = running.discord
    await fake.post(fake.member, "!instruction")
    help_parts = await collect(running, lambda m: "!correct" in m["content"]
                               or "Transcribe" in m["content"], 1)  # fmt: skip
    assert all(len(part["content"]) <= 2000 for part in help_parts)
    await fake.post(fake.trainer, "!instruction set Отвечай только стихами.")
    await fake.wait_for(lambda m: m["content"] == "Instruction updated.")
    await fake.post(fake.member, "Привет", channel=fake.chat)
    await fake.wait_for(lambda m: m["content"] == running.openai.reply)
    assert running.openai.chat_requests[-1]["messages"][0]["content"] == "Отвечай только стихами."
    assert load_settings().assistant.system_prompt == "Отвечай только стихами."  # kept
    await fake.post(fake.trainer, "!instruction reset")
    await fake.wait_for(lambda m: m["content"] == "Instruction reset to the default.")
    assert load_settings().assistant.system_prompt is None


async def test_train_with_other_files_attached_starts_nothing(running: Running) -> None:
    """A CSV or a .json beside !train was ignored: the paid job ran on the dataset instead."""
    fake = running.discord
    dataset = running.services.settings.discord.dataset
    rows = [json.loads(line) for line in training_jsonl(20).splitlines()]
    approved = [NewExample(row, status=Status.APPROVED) for row in rows]
    await running.services.datasets.add(dataset, approved)  # !train alone would start a job
    csv = fake.attachment(b"prompt,completion\nhi,hello\n", "data.csv", "text/csv")
    await fake.post(fake.trainer, "!train", attachments=[csv])
    refused = await fake.wait_for(lambda m: "data.csv" in m["content"])
    assert refused["content"].startswith("I train on one or two attached .jsonl files")
    data = fake.attachment(training_jsonl(12), "data.jsonl", "application/jsonl")
    await fake.post(fake.trainer, f"!train {dataset}", attachments=[data])
    await fake.wait_for(lambda m: m["content"].startswith("Give a dataset name or attach files"))
    assert not running.openai.jobs and not running.openai.files


async def test_help_names_every_command_and_menu(running: Running) -> None:
    """!help met silence, and the help left out !listen, !translate and others."""
    fake = running.discord
    await fake.post(fake.member, "!help")
    shown = await fake.wait_for(lambda m: m["content"].startswith("**Voxdesk bot — commands**"))
    bot = running.bridge.bot
    missing = [c.name for c in bot.walk_commands() if f"`!{c.name}" not in shown["content"]]
    menus = bot.tree.get_commands(type=discord.AppCommandType.message)
    missing += [menu.name for menu in menus if f"**{menu.name}**" not in shown["content"]]
    assert missing == []
    assert "`!" not in help_text("?") and "`?listen" in help_text("?")


async def test_a_reason_quoting_a_long_argument_stays_within_discords_limit(
    running: Running,
) -> None:
    """Over 2,000 characters Discord refuses the message: the reason was never seen."""
    fake = running.discord
    name = "x" * 1970
    await fake.post(fake.trainer, f"!archive {name}")
    reason = await fake.wait_for(lambda m: m["content"].startswith("There is no dataset named"))
    assert len(reason["content"]) <= 2000 and reason["content"].endswith("creates it.")
    await fake.post(fake.trainer, f"!select_dataset {name}")
    pieces = await collect(running, lambda m: "Datasets: none yet." in m["content"], 1)
    assert pieces and all(len(m["content"]) <= 2000 for m in fake.bot_messages)


async def test_correct_takes_a_message_link(running: Running) -> None:
    """Without Developer Mode a member can copy a message's link, not its id."""
    fake, store = running.discord, running.services.datasets
    await fake.post(fake.member, "Столица Франции?", channel=fake.chat)
    answer = await fake.wait_for(lambda m: m["content"] == running.openai.reply)
    link = f"https://discord.com/channels/{fake.guild_id}/{fake.chat}/{answer['id']}"
    await fake.post(fake.member, f"!correct {link} Париж.", channel=fake.chat)
    await fake.wait_for(lambda m: "Saved as candidate" in m["content"])
    [correction] = await store.examples("discord", status=Status.CANDIDATE)
    assert correction.messages[-1] == {"role": "assistant", "content": "Париж."}


async def test_correct_follows_a_link_only_into_a_channel_its_author_may_read(
    running: Running,
) -> None:
    """The bot reads channels a member may not: a link into one gave that member its reply
    and question as a training example of their own."""
    fake, store = running.discord, running.services.datasets
    private = await fake.create_private_channel("staff", fake.trainer)
    running.services.settings.discord.reply_channels.append(private)
    await fake.post(fake.trainer, "Столица Франции?", channel=private)
    answer = await fake.wait_for(lambda m: m["content"] == running.openai.reply)
    link = f"https://discord.com/channels/{fake.guild_id}/{private}/{answer['id']}"
    await fake.post(fake.member, f"!correct {link} Лион.", channel=fake.chat)
    await fake.wait_for(lambda m: m["content"].startswith("Give the id or link of one of my"))
    assert await store.datasets() == []
    await fake.post(fake.trainer, f"!correct {link} Париж.", channel=fake.chat)
    await fake.wait_for(lambda m: "Saved as candidate" in m["content"])
    [correction] = await store.examples("discord", status=Status.CANDIDATE)
    assert correction.metadata["discord"]["channel_id"] == private  # where the reply is


async def test_an_export_over_discords_upload_limit_is_named_not_sent(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Discord answers 413 to a file over the server's limit: 'Something went wrong'."""
    fake = running.discord
    rows = [json.loads(line) for line in training_jsonl(20).splitlines()]
    approved = [NewExample(row, status=Status.APPROVED) for row in rows]
    await running.services.datasets.add("discord", approved)
    monkeypatch.setattr(discord.Guild, "filesize_limit", property(lambda guild: 1024))
    await fake.post(fake.trainer, "!archive")
    told = await fake.wait_for(lambda m: "Discord lets me send here" in m["content"])
    assert told["content"].startswith("'discord': 20 examples to train on in discord-")
    name = told["content"].split(" in ", 1)[1].split(".jsonl")[0] + ".jsonl"
    await fake.post(fake.trainer, f"!getfile {name}")
    await fake.wait_for(lambda m: m["content"].startswith(f"'{name}': At "))
    assert not [m for m in fake.bot_messages if m["attachments"]]


async def test_feedback_with_no_answer_to_attach_it_to_stores_nothing(running: Running) -> None:
    """It was saved as a candidate without messages: no exchange to review, and not trainable."""
    fake = running.discord
    await fake.post(fake.member, "!feedback great bot")
    await fake.wait_for(lambda m: m["content"].startswith("I haven't answered you in this channel"))
    assert await running.services.datasets.datasets() == []


async def test_getfile_lists_the_newest_exports(running: Running) -> None:
    """It listed the last 30 by name: a newer export of 'alpha' hid behind older 'zeta' ones."""
    fake = running.discord
    folder = exports_folder()
    folder.mkdir(parents=True)
    for day in range(1, 32):
        old = folder / f"zeta-202601{day:02d}.jsonl"
        old.write_text("{}\n")
        os.utime(old, (day * 86400, day * 86400))
    (folder / "alpha-20261201.jsonl").write_text("{}\n")  # written now: the newest
    await fake.post(fake.trainer, "!getfile")
    listing = await fake.wait_for(lambda m: "(the 30 newest of 32)" in m["content"])
    assert listing["content"].splitlines()[-2] == "`alpha-20261201.jsonl`"
    assert "zeta-20260102" not in listing["content"] and "zeta-20260103" in listing["content"]
