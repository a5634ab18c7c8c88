"""The fine-tuning client with the real ``openai`` package against the loopback OpenAI."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import API_KEY, FakeOpenAI
from voxdesk.core.config import OpenAISettings, SecretStore
from voxdesk.core.events import EventBus, JobUpdated
from voxdesk.core.openai_client import OpenAIError, make_client
from voxdesk.core.training.database import Database
from voxdesk.core.training.finetune import (
    EVENTS_PER_PAGE,
    MAX_EVENT_PAGES,
    READ_ATTEMPTS,
    READ_PATIENCE_SECONDS,
    FineTuneError,
    FineTuner,
    Retrying,
)
from voxdesk.core.training.job_request import Hyperparameters, InvalidJobRequest, JobRequest
from voxdesk.core.training.jobs import JobRegistry


async def no_wait(seconds: float) -> None:
    """Polls and back-offs happen at once: the fake moves a job one step per request."""


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAI]:
    fake = await FakeOpenAI(steps=3).start()
    yield fake
    assert fake.spec_problems() == []  # every exchange conformed to OpenAI's published spec
    await fake.stop()


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(tmp_path / "voxdesk.db")
    yield db
    await db.close()


_made: list[FineTuner] = []  # closed after each test


@pytest.fixture(autouse=True)
async def close_tuners() -> AsyncIterator[None]:
    yield
    while _made:
        await _made.pop().close()


def tuner(server: FakeOpenAI, database: Database, retries: int = 0, **options: Any) -> FineTuner:
    settings = OpenAISettings(base_url=server.base_url, timeout=5, max_retries=retries)
    factory = partial(make_client, settings, SecretStore({"OPENAI_API_KEY": API_KEY}))
    options = {"poll_seconds": 0.01, "sleep": no_wait} | options
    made = FineTuner(factory, JobRegistry(database), **options)
    _made.append(made)
    return made


@pytest.fixture
def training_file(tmp_path: Path) -> Path:
    path = tmp_path / "train.jsonl"
    rows = [
        {"messages": [{"role": "user", "content": f"Q{i}"}, {"role": "assistant", "content": "A"}]}
        for i in range(10)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


async def start_job(client: FineTuner, path: Path, **options: object) -> str:
    file_id = await client.upload(path)
    request = JobRequest("gpt-4o-mini-2024-07-18", file_id, **options)  # type: ignore[arg-type]
    job = await client.create(request, dataset="bot", estimated_cost=0.12)
    return job.id


async def test_upload_reports_progress_and_does_not_poll_the_deprecated_status(
    server: FakeOpenAI, database: Database, training_file: Path
) -> None:
    seen: list[tuple[int, int]] = []
    file_id = await tuner(server, database).upload(training_file, lambda d, t: seen.append((d, t)))
    assert server.file_contents[file_id] == training_file.read_bytes()
    assert seen and seen[-1] == (training_file.stat().st_size,) * 2
    assert server.requests_to("POST", "/v1/files")[0].body["purpose"] == "fine-tune"
    # the file still says "uploaded" (a status OpenAI deprecated): the job checks the file
    assert server.files[file_id]["status"] == "uploaded"
    assert server.requests_to("GET", "/v1/files/") == []


async def test_an_upload_that_never_finishes_meets_a_deadline(
    server: FakeOpenAI, database: Database, training_file: Path
) -> None:
    server.stall_uploads = True
    client = tuner(server, database, upload_deadline_seconds=0.2)
    with pytest.raises(FineTuneError, match=r"Uploading train.jsonl did not finish within 0.2 s"):
        await client.upload(training_file)


async def test_event_pages_that_do_not_move_the_cursor_are_read_once(
    server: FakeOpenAI, database: Database, training_file: Path
) -> None:
    client = tuner(server, database)
    job_id = await start_job(client, training_file)
    server.event_paging = "stuck"
    async with asyncio.timeout(30):  # before the fix this loop never ended
        update = await client.poll(job_id)
    assert [e.id for e in update.events] == [e["id"] for e in server.jobs[job_id].events]
    assert len(server.requests_to("GET", f"/v1/fine_tuning/jobs/{job_id}/events")) == 2


async def test_event_pages_without_end_are_capped(
    server: FakeOpenAI, database: Database, training_file: Path
) -> None:
    client = tuner(server, database)
    job_id = await start_job(client, training_file)
    server.event_paging = "endless"
    async with asyncio.timeout(60):
        update = await client.poll(job_id)
    pages = server.requests_to("GET", f"/v1/fine_tuning/jobs/{job_id}/events")
    assert len(pages) == MAX_EVENT_PAGES
    assert len(update.events) == MAX_EVENT_PAGES * EVENTS_PER_PAGE
    assert len({e.id for e in update.events}) == len(update.events)


async def test_following_publishes_every_update_on_the_bus(
    server: FakeOpenAI, database: Database, training_file: Path
) -> None:
    bus = EventBus()
    updates = bus.subscribe(JobUpdated)
    client = tuner(server, database, events=bus)
    job_id = await start_job(client, training_file)
    followed = [update.job.status async for update in client.follow(job_id)]
    published = []
    while (event := updates.get_nowait()) is not None:
        published.append(event)
    assert [e.status for e in published] == followed and {e.job_id for e in published} == {job_id}
    assert published[-1].fine_tuned_model == server.jobs[job_id].fine_tuned_model


async def test_create_refuses_out_of_range_options_without_asking_openai(
    server: FakeOpenAI, database: Database
) -> None:
    request = JobRequest("gpt-4o-mini-2024-07-18", "file-x", suffix="x" * 65)
    with pytest.raises(InvalidJobRequest, match="65 characters"):
        await tuner(server, database).create(request)
    assert server.exchanges == []


async def test_create_sends_method_hyperparameters_and_options(
    server: FakeOpenAI, database: Database, training_file: Path
) -> None:
    client = tuner(server, database)
    valid = await client.upload(training_file)
    job_id = await start_job(
        client, training_file, validation_file=valid, method="dpo", suffix="voxbot", seed=11,
        metadata={"dataset": "bot"},
        hyperparameters=Hyperparameters(n_epochs=2, batch_size=4, learning_rate_multiplier=0.5,
                                        beta=0.2),
    )  # fmt: skip
    sent = server.requests_to("POST", "/v1/fine_tuning/jobs")[0].body
    assert sent["method"] == {
        "type": "dpo",
        "dpo": {
            "hyperparameters": {
                "n_epochs": 2,
                "batch_size": 4,
                "learning_rate_multiplier": 0.5,
                "beta": 0.2,
            }
        },
    }
    assert (sent["suffix"], sent["seed"], sent["validation_file"]) == ("voxbot", 11, valid)
    record = await client.registry.job(job_id)
    assert record is not None and record.dataset == "bot" and record.estimated_cost == 0.12
    assert record.method == "dpo"


async def test_follow_to_success_with_every_event_once(
    server: FakeOpenAI, database: Database, training_file: Path
) -> None:
    client = tuner(server, database)
    job_id = await start_job(client, training_file)
    updates = [update async for update in client.follow(job_id)]
    assert [u.job.status for u in updates] == ["queued", "running", "running", "running",
                                               "running", "succeeded"]  # fmt: skip
    events = [event for update in updates for event in update.events]
    assert [e.id for e in events] == [e["id"] for e in server.jobs[job_id].events]
    assert len({e.id for e in events}) == len(events)
    final = updates[-1].job
    assert final.fine_tuned_model and final.fine_tuned_model.startswith("ft:gpt-4o-mini")
    registry = client.registry
    assert await registry.status_history(job_id) == ["validating_files", "queued", "running",
                                                     "succeeded"]  # fmt: skip
    metrics = await registry.metrics(job_id)
    assert [(m.step, m.train_loss) for m in metrics] == [(1, 1.5), (2, 0.75), (3, 0.5)]
    assert [c.step for c in await registry.checkpoints(job_id)] == [1, 2, 3]


async def test_a_poll_interval_changed_while_following_takes_effect_at_once(
    server: FakeOpenAI, database: Database, training_file: Path
) -> None:
    interval, slept = [5.0], []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    client = tuner(server, database, poll_seconds=lambda: interval[-1], sleep=sleep)
    job_id = await start_job(client, training_file)
    async for _ in client.follow(job_id):
        if slept == [5.0]:
            interval.append(60.0)  # set in the window while the job runs
    assert slept[0] == 5.0 and len(slept) > 2 and set(slept[1:]) == {60.0}


async def test_following_survives_transient_errors_without_duplicates(
    server: FakeOpenAI, database: Database, training_file: Path
) -> None:
    client = tuner(server, database)
    job_id = await start_job(client, training_file)
    events = []
    async for update in client.follow(job_id):
        events += update.events
        if update.job.status == "running" and not server.failures:
            server.fail_next(429, "slow down")
            server.fail_next(503, "overloaded")
            server.drop_next()
            server.fail_next(500, "boom")
    assert update.job.status == "succeeded"
    assert len({e.id for e in events}) == len(events) == len(server.jobs[job_id].events)


async def test_following_resumes_after_a_restart(
    server: FakeOpenAI, tmp_path: Path, training_file: Path
) -> None:
    first_db = Database(tmp_path / "voxdesk.db")
    first = tuner(server, first_db)
    job_id = await start_job(first, training_file)
    seen = []
    async for update in first.follow(job_id):
        seen += update.events
        if update.job.status == "running":
            break  # the app is closed mid-job
    await first_db.close()

    second_db = Database(tmp_path / "voxdesk.db")
    second = tuner(server, second_db)
    assert [job.id for job in await second.registry.unfinished()] == [job_id]
    async for update in second.follow(job_id):
        seen += update.events
    assert [e.id for e in seen] == [e["id"] for e in server.jobs[job_id].events]
    await second_db.close()


async def test_cancel_and_failure(
    server: FakeOpenAI, database: Database, training_file: Path
) -> None:
    client = tuner(server, database)
    cancelled = await client.cancel(await start_job(client, training_file))
    assert cancelled.status == "cancelled" and cancelled.finished
    server.fail_jobs = True
    failed_id = await start_job(client, training_file)
    final = [update async for update in client.follow(failed_id)][-1].job
    assert final.status == "failed"
    assert final.error == "The training file has too few valid examples."
    with pytest.raises(OpenAIError, match="already failed"):
        await client.cancel(failed_id)


async def test_listing_pages(server: FakeOpenAI, database: Database, training_file: Path) -> None:
    client = tuner(server, database)
    ids = [await start_job(client, training_file) for _ in range(5)]
    first, more = await client.list_jobs(limit=2)
    second, _ = await client.list_jobs(limit=2, after=first[-1].id)
    assert more and [j.id for j in first + second] == sorted(ids, reverse=True)[:4]


async def test_persistent_errors_are_not_retried_forever(
    server: FakeOpenAI, database: Database
) -> None:
    with pytest.raises(OpenAIError, match="404"):
        await tuner(server, database).retrieve("ftjob-missing")


def closed_port() -> int:
    """A loopback port nothing listens on: a connection to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Clock:
    """Sleeps that take no time and are counted: how long a call would have waited."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def unreachable(database: Database, clock: Clock, **options: Any) -> FineTuner:
    settings = OpenAISettings(base_url=f"http://127.0.0.1:{closed_port()}/v1", max_retries=0)
    factory = partial(make_client, settings, SecretStore({"OPENAI_API_KEY": API_KEY}))
    made = FineTuner(factory, JobRegistry(database), sleep=clock.sleep, **options)
    _made.append(made)
    return made


@pytest.mark.parametrize(
    "read",
    [
        lambda tuner: tuner.retrieve("ftjob-abc"),
        lambda tuner: tuner.poll("ftjob-abc"),
        lambda tuner: tuner.checkpoints("ftjob-abc"),
        lambda tuner: tuner.track("ftjob-abc"),
        lambda tuner: tuner.pause("ftjob-abc"),
        lambda tuner: tuner.resume("ftjob-abc"),
    ],
    ids=["retrieve", "poll", "checkpoints", "track", "pause", "resume"],
)
async def test_a_read_asked_once_gives_up_when_openai_cannot_be_reached(
    database: Database, read: Callable[[FineTuner], Awaitable[object]]
) -> None:
    clock = Clock()
    async with asyncio.timeout(30):  # before the fix these retried without end
        with pytest.raises(OpenAIError) as raised:
            await read(unreachable(database, clock))
    assert raised.value.describe() == (
        "OpenAI cannot be reached. Check the internet connection and openai.base_url."
    )
    assert len(clock.slept) <= READ_ATTEMPTS - 1  # tries, and the waits between them
    assert sum(clock.slept) <= READ_PATIENCE_SECONDS


async def test_following_waits_an_outage_out_and_says_so_before_each_wait(
    server: FakeOpenAI, database: Database, training_file: Path
) -> None:
    clock = Clock()
    client = tuner(server, database, sleep=clock.sleep)
    job_id = await start_job(client, training_file)
    told: list[Retrying] = []
    async for update in client.follow(job_id, waiting=told.append):
        if update.job.status == "running" and not told:
            for _ in range(READ_ATTEMPTS * 3):  # longer than a read asked once would wait
                server.drop_next()
    assert update.job.status == "succeeded"
    assert len(told) == READ_ATTEMPTS * 3
    assert {notice.job_id for notice in told} == {job_id}
    assert told[0].describe().startswith("OpenAI cannot be reached. Check the internet")
    assert [notice.seconds for notice in told] == [s for s in clock.slept if s != 0.01]


async def test_following_an_unreachable_openai_goes_on_saying_so_until_stopped(
    database: Database,
) -> None:
    clock = Clock()
    client = unreachable(database, clock, poll_seconds=5.0, max_backoff_seconds=60.0)
    told: list[Retrying] = []
    enough = asyncio.Event()

    def waiting(notice: Retrying) -> None:
        told.append(notice)
        if len(told) == 8:
            enough.set()

    async def follow() -> None:
        async for _ in client.follow("ftjob-abc", waiting=waiting):
            pass

    following = asyncio.ensure_future(follow())
    async with asyncio.timeout(30):
        await enough.wait()
    following.cancel()  # what Ctrl+C or closing the window does
    with pytest.raises(asyncio.CancelledError):
        await following
    assert len(told) >= 8 and all("cannot be reached" in notice.problem for notice in told)
    waits = [notice.seconds for notice in told]
    assert 5 <= waits[0] <= 6 and max(waits) <= 60  # spaced like polls, backing off to a cap
    assert waits == clock.slept[: len(waits)]


async def test_pause_and_resume_a_running_job(
    server: FakeOpenAI, database: Database, training_file: Path
) -> None:
    bus = EventBus()
    updates = bus.subscribe(JobUpdated)
    client = tuner(server, database, events=bus)
    job_id = await start_job(client, training_file)
    with pytest.raises(FineTuneError, match="is queued; only a running job can pause"):
        await client.pause(job_id)
    while (await client.poll(job_id)).job.status != "running":
        pass
    paused = await client.pause(job_id)
    assert paused.status == "paused" and server.jobs[job_id].status == "paused"
    assert (await client.poll(job_id)).job.status == "paused"  # it waits, no steps taken
    assert server.jobs[job_id].step == 0
    assert (await client.resume(job_id)).status == "running"
    history = await client.registry.status_history(job_id)
    assert history[-3:] == ["running", "paused", "running"]
    seen = []
    while (event := updates.get_nowait()) is not None:
        seen.append(event.status)
    assert seen[-3:] == ["paused", "paused", "running"]  # paused, polled, resumed
    with pytest.raises(FineTuneError, match="is running; only a paused job can resume"):
        await client.resume(job_id)


async def test_a_pause_that_did_not_reach_openai_is_not_explained_by_the_jobs_state(
    server: FakeOpenAI, database: Database, training_file: Path
) -> None:
    client = tuner(server, database)
    job_id = await start_job(client, training_file)
    server.fail_next(503, "overloaded")
    with pytest.raises(OpenAIError, match="OpenAI answered 503: overloaded"):
        await client.pause(job_id)
    assert server.requests_to("GET", f"/v1/fine_tuning/jobs/{job_id}") == []  # no retrieve


async def test_a_remote_job_can_be_recorded_and_followed(
    server: FakeOpenAI, database: Database, training_file: Path
) -> None:
    elsewhere = tuner(server, database)
    file_id = await elsewhere.upload(training_file)
    created = await elsewhere.client.fine_tuning.jobs.create(
        model="gpt-4o-mini-2024-07-18", training_file=file_id
    )  # as the dashboard would: nothing recorded here
    client = tuner(server, database)
    assert await client.registry.job(created.id) is None
    await client.track(created.id)
    assert [record.id for record in await client.registry.unfinished()] == [created.id]
    async for update in client.follow(created.id):
        last = update
    assert last.job.status == "succeeded"
    assert (await client.registry.job(created.id)) is not None


async def test_validation_and_full_validation_metrics_are_kept_with_gaps(
    server: FakeOpenAI, database: Database, training_file: Path
) -> None:
    client = tuner(server, database)
    validation = await client.upload(training_file)
    file_id = await client.upload(training_file)
    request = JobRequest("gpt-4o-mini-2024-07-18", file_id, validation_file=validation)
    job = await client.create(request, dataset="bot", estimated_cost=None)
    async for _ in client.follow(job.id):
        pass
    points = await client.registry.metrics(job.id)
    assert [p.step for p in points] == [1, 2, 3]
    assert [p.valid_loss is None for p in points] == [True, False, True]  # a gap stays a gap
    assert [p.full_valid_loss is None for p in points] == [True, True, False]
    assert points[2].full_valid_mean_token_accuracy is not None
    checkpoints = await client.registry.checkpoints(job.id)
    assert "full_valid_loss" in checkpoints[-1].metrics
