"""The Fine-tunes page end to end against the loopback OpenAI: estimate, start, chart, use."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.fakes.openai_server import API_KEY, FakeOpenAI
from voxdesk.core.config import SecretStore, Settings, load_settings
from voxdesk.core.errors import VoxdeskError
from voxdesk.core.services import Services
from voxdesk.core.training.store import NewExample, Status
from voxdesk.desktop.pages.finetune import FineTunePage


@pytest.fixture
def page_and_server(qloop: asyncio.AbstractEventLoop, qtbot: QtBot,
                    tmp_path: Path) -> Iterator[tuple[FineTunePage, FakeOpenAI]]:  # fmt: skip
    server = qloop.run_until_complete(FakeOpenAI(steps=3).start())
    settings = Settings()
    settings.openai.base_url = server.base_url
    settings.openai.job_poll_seconds = 0.01
    services = Services(settings, SecretStore({"OPENAI_API_KEY": API_KEY}),
                        settings_path=tmp_path / "settings.toml")  # fmt: skip
    rows = [
        {
            "messages": [
                {"role": "system", "content": "Be kind"},
                {"role": "user", "content": f"Вопрос {i}?"},
                {"role": "assistant", "content": f"Ответ {i}."},
            ]
        }
        for i in range(20)
    ]
    examples = [NewExample(row, status=Status.APPROVED) for row in rows]  # fmt: skip
    qloop.run_until_complete(services.datasets.add("bot", examples))
    page = FineTunePage(services)
    qtbot.addWidget(page)
    qloop.run_until_complete(page.start())
    yield page, server
    qloop.run_until_complete(page.shutdown())
    qloop.run_until_complete(services.close())
    problems = server.spec_problems()
    qloop.run_until_complete(server.stop())
    assert problems == []


def test_estimate_start_follow_chart_and_use(
    qloop: asyncio.AbstractEventLoop, page_and_server: tuple[FineTunePage, FakeOpenAI],
    tmp_path: Path,
) -> None:  # fmt: skip
    page, server = page_and_server

    async def scenario() -> str:  # one run of the loop, as in the app
        assert page.dataset.currentText() == "bot"
        page.validation.setValue(0.2)
        page.suffix.setText("voxbot")
        page.epochs.setValue(2)
        report = await page.estimate()
        assert report.ok and report.cost is not None
        assert page.estimate_label.text().startswith("16 examples")  # 20 % held out
        assert f"${report.cost.dollars:,.2f}" in page.estimate_label.text()
        job_id = await page.start_job(confirm=False)
        await asyncio.wait_for(page.wait_for(job_id), 30)
        page.select(job_id)
        await page.show_job()
        await page.use_selected()
        return job_id

    job_id = qloop.run_until_complete(scenario())
    sent = server.jobs[job_id].body
    assert sent["suffix"] == "voxbot" and sent["validation_file"]
    assert sent["method"]["supervised"]["hyperparameters"] == {"n_epochs": 2}
    assert page.jobs.jobs[0].status == "succeeded"
    steps, losses = page.loss_curve.getData()
    assert list(steps) == [1, 2, 3] and list(losses) == [1.5, 0.75, 0.5]
    assert "New fine-tuned model created" in page.events.toPlainText()
    model = page.jobs.jobs[0].fine_tuned_model
    assert model and load_settings(tmp_path / "settings.toml").assistant.model == model
    assert page.services.settings.assistant.model == model


def test_following_says_while_openai_cannot_answer(
    qloop: asyncio.AbstractEventLoop, page_and_server: tuple[FineTunePage, FakeOpenAI],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Following waits an outage out, as it should, but it waited in silence: the page looked
    as if the job had stopped moving."""
    page, server = page_and_server
    said: list[str] = []
    monkeypatch.setattr(page.status, "say", lambda text, error=False: said.append(text))

    async def scenario() -> str:
        job_id = await page.start_job(confirm=False)
        for _ in range(3):  # one poll's tries: the first and the client's own two retries
            server.fail_next(503, "The server is overloaded")
        await asyncio.wait_for(page.wait_for(job_id), 60)
        return job_id

    job_id = qloop.run_until_complete(scenario())
    assert any(f"Trying job {job_id} again" in line for line in said), said
    waited = next(i for i, line in enumerate(said) if f"Trying job {job_id} again" in line)
    assert f"OpenAI answers again: following {job_id}." in said[waited:]  # not left in red
    assert page.jobs.jobs[0].status == "succeeded"


def test_use_refuses_a_failed_job(
    qloop: asyncio.AbstractEventLoop, page_and_server: tuple[FineTunePage, FakeOpenAI]
) -> None:
    page, server = page_and_server
    server.fail_jobs = True

    async def scenario() -> None:
        job_id = await page.start_job(confirm=False)
        await asyncio.wait_for(page.wait_for(job_id), 30)
        page.select(job_id)
        with pytest.raises(VoxdeskError, match="Select a succeeded job"):
            await page.use_selected()

    qloop.run_until_complete(scenario())
    assert page.jobs.jobs[0].status == "failed"


def test_fine_tune_from_a_file(
    qloop: asyncio.AbstractEventLoop, page_and_server: tuple[FineTunePage, FakeOpenAI],
    tmp_path: Path,
) -> None:  # fmt: skip
    page, server = page_and_server
    rows = [
        {"messages": [{"role": "user", "content": f"Q{i}"}, {"role": "assistant", "content": "A"}]}
        for i in range(10)
    ]
    path = tmp_path / "own.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert page.file.isVisibleTo(page)  # in the form, next to the dataset it replaces
    page.file.setText(str(path))

    async def scenario() -> str:
        report = await page.estimate()
        assert report.examples == 10
        job_id = await page.start_job(confirm=False)
        await asyncio.wait_for(page.wait_for(job_id), 30)
        return job_id

    job_id = qloop.run_until_complete(scenario())
    training_file = server.jobs[job_id].body["training_file"]
    assert server.file_contents[training_file] == path.read_bytes()  # uploaded as it is
    page.file.setText(str(tmp_path / "missing.jsonl"))
    with pytest.raises(VoxdeskError, match="is not a file"):
        qloop.run_until_complete(page.estimate())


def test_the_chart_takes_the_theme_colours(
    page_and_server: tuple[FineTunePage, FakeOpenAI],
) -> None:
    from PySide6.QtGui import QColor, QPalette

    page, _ = page_and_server
    assert page.chart.backgroundBrush().color() == page.palette().base().color()
    dark = QPalette(page.palette())
    dark.setColor(QPalette.ColorRole.Base, QColor("#202124"))
    page.setPalette(dark)  # as when the system switches to a dark theme
    assert page.chart.backgroundBrush().color() == QColor("#202124")
