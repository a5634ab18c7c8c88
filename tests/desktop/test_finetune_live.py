"""The Fine-tunes page follows jobs it did not start, and draws what is stored, gaps and all."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.bridge.test_training import training_jsonl
from tests.desktop.test_finetune_page import page_and_server  # noqa: F401 (a fixture)
from tests.fakes.discord_server import TOKEN, FakeDiscord
from tests.fakes.openai_server import API_KEY, FakeOpenAI
from voxdesk.bridge.runner import Bridge
from voxdesk.core.config import SecretStore, Settings
from voxdesk.core.services import Services
from voxdesk.core.training.jobs import JobEvent, JobSnapshot
from voxdesk.desktop.pages.finetune import FineTunePage


def test_a_job_started_with_train_appears_and_moves_live(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    discord = qloop.run_until_complete(FakeDiscord().start())
    openai = qloop.run_until_complete(FakeOpenAI(steps=2).start())
    discord.point_client_here(monkeypatch)
    settings = Settings()
    settings.openai.base_url = openai.base_url
    settings.openai.job_poll_seconds = 0.01
    settings.discord.trainer_role = "Trainer"
    secrets = SecretStore({"DISCORD_TOKEN": TOKEN, "OPENAI_API_KEY": API_KEY})
    services = Services(settings, secrets, settings_path=tmp_path / "settings.toml")
    page = FineTunePage(services)
    qtbot.addWidget(page)
    bridge = Bridge(services)
    seen: list[tuple[str, str | None]] = []  # the page's first job, each time the list changed

    async def story() -> None:
        await page.start()
        await bridge.start()
        await asyncio.wait_for(bridge.bot.wait_until_ready(), 30)
        finished = asyncio.Event()

        def changed() -> None:
            if page.jobs.jobs:
                job = page.jobs.jobs[0]
                seen.append((job.status, job.fine_tuned_model))
                if job.status == "succeeded":
                    finished.set()

        page.jobs.modelReset.connect(changed)
        data = discord.attachment(training_jsonl(12), "data.jsonl", "application/jsonl")
        await discord.post(discord.trainer, "!train", attachments=[data])
        await asyncio.wait_for(finished.wait(), 30)
        await bridge.stop()
        await page.shutdown()

    qloop.run_until_complete(story())
    job = next(iter(openai.jobs.values()))
    statuses = [status for status, _ in seen]
    assert statuses[0] != "succeeded" and "running" in statuses  # it moved while we watched
    assert seen[-1] == ("succeeded", job.fine_tuned_model)
    qloop.run_until_complete(services.close())
    qloop.run_until_complete(openai.stop())
    qloop.run_until_complete(discord.stop())


def test_the_chart_leaves_gaps_and_draws_validation_loss(
    qloop: asyncio.AbstractEventLoop,
    page_and_server: tuple[FineTunePage, FakeOpenAI],  # noqa: F811
) -> None:
    page, _ = page_and_server
    registry = page.services.jobs
    job = JobSnapshot("ftjob-chart", "running", "gpt-4o-mini-2024-07-18", "file-1")
    points = [{"step": 1, "train_loss": 1.5, "valid_loss": 1.7, "train_mean_token_accuracy": 0.6},
              {"step": 2, "valid_loss": 1.2},  # no training values at this step
              {"step": 3, "train_loss": 0.5, "train_mean_token_accuracy": 0.9}]  # fmt: skip
    events = [JobEvent(f"ev-{p['step']}", p["step"], "info", "metrics", "metrics", p)
              for p in points]  # fmt: skip

    async def show() -> None:
        await registry.record(job, dataset="bot", estimated_cost=None)
        await registry.add_events(job.id, events)
        await page.refresh_jobs()
        page.select(job.id)
        await page.show_job()

    qloop.run_until_complete(show())
    steps, losses = page.loss_curve.getData()
    assert list(steps) == [1, 2, 3]
    assert losses[0] == 1.5 and math.isnan(losses[1]) and losses[2] == 0.5  # a gap, not a 0
    assert page.loss_curve.opts["connect"] == "finite"
    _, accuracy = page.accuracy_curve.getData()
    assert math.isnan(accuracy[1]) and page.accuracy_curve.opts["connect"] == "finite"
    _, validation = page.validation_loss_curve.getData()
    assert list(validation[:2]) == [1.7, 1.2] and math.isnan(validation[2])


def test_stop_while_starting_deletes_what_was_uploaded(
    qloop: asyncio.AbstractEventLoop,
    page_and_server: tuple[FineTunePage, FakeOpenAI],  # noqa: F811
) -> None:
    page, server = page_and_server
    page.validation.setValue(0.2)

    async def scenario() -> None:
        uploading = asyncio.Event()
        original = page._show_step

        def show_step(step: object) -> None:
            original(step)  # type: ignore[arg-type]
            if page.status.text().startswith("Uploading the validation file"):
                server.stall_uploads = True  # it never finishes: the user gives up
                uploading.set()

        page._show_step = show_step  # type: ignore[method-assign]
        page.background.run(page.start_job(confirm=False))
        await asyncio.wait_for(uploading.wait(), 30)
        page.stop_button.click()
        await page.background.settle()

    qloop.run_until_complete(scenario())
    assert page.status.text() == "Stopped."
    training = server.requests_to("POST", "/v1/files")[0].response["id"]
    assert [e.path for e in server.requests_to("DELETE", "/v1/files/")] == [f"/v1/files/{training}"]
    assert server.jobs == {}
