"""The OpenAI fine-tuning client: upload, create, follow, pause, resume, cancel, list, track.

A read asked for once (a job's status, its checkpoints) rides out transient trouble (429, 5xx,
timeouts, dropped connections) for a few tries, then gives up with the reason. Following a job
polls its status, events and checkpoints, waits such trouble out as long as it lasts (saying so
before each wait), and hands out each event exactly once: the job registry remembers which
event ids were already seen, across restarts too. Every poll is published on the event bus as
``JobUpdated``, whoever started the job or follows it.

A server is not trusted to behave: event pages must move forward and are capped, an upload has
a deadline, and a job's options are checked against OpenAI's bounds before it is created.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    stop_never,
    wait_exponential_jitter,
)

from voxdesk.core.config.store import SettingsWatch
from voxdesk.core.errors import user_message
from voxdesk.core.events import EventBus, JobUpdated
from voxdesk.core.openai_client import LazyClient, OpenAIError, explain
from voxdesk.core.training.job_request import JobRequest, JobUpdate
from voxdesk.core.training.jobs import Checkpoint, JobEvent, JobRegistry, JobSnapshot

if TYPE_CHECKING:  # imported where used, as in voxdesk.core.openai_client: it is slow to import
    import openai

    Request = Callable[[openai.AsyncOpenAI], Awaitable[Any]]  # one API call, on the client given

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]
EVENTS_PER_PAGE = 100
MAX_EVENT_PAGES = 50  # one poll reads at most 5,000 new events; the next poll reads on
# A read asked for once: each try has the client's own retries (openai.max_retries) already,
# so a few more, a few seconds apart, and none begun after 20 s (a try can take openai.timeout);
# then the user hears why rather than waiting on.
READ_ATTEMPTS = 3
READ_PATIENCE_SECONDS = 20.0
READ_MAX_WAIT_SECONDS = 4.0


@dataclass(frozen=True)
class Retrying:
    """A job being followed could not be polled for a reason worth waiting out; the next try
    is ``seconds`` away."""

    job_id: str
    problem: str  # one line for anyone to read: explain()'s, secrets redacted
    seconds: float

    def describe(self) -> str:
        return f"{self.problem} Trying job {self.job_id} again in {self.seconds:.0f} s."


RetryingCallback = Callable[[Retrying], None]


class FineTuneError(OpenAIError):
    """A fine-tuning request failed for good (not a transient error)."""


def is_transient(error: BaseException) -> bool:
    """Errors worth waiting out: rate limits, server errors, timeouts, dropped connections."""
    import openai

    if isinstance(error, openai.APIStatusError):
        return error.status_code == 429 or error.status_code >= 500
    return isinstance(error, openai.APIConnectionError | openai.APITimeoutError)


class FineTuner:
    def __init__(
        self,
        client_factory: Callable[[], openai.AsyncOpenAI],
        registry: JobRegistry,
        *,
        poll_seconds: float | Callable[[], float] = 10.0,
        max_backoff_seconds: float = 120.0,
        upload_deadline_seconds: float = 900.0,
        events: EventBus | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        client_settings: SettingsWatch | None = None,
    ) -> None:
        # Renewed when a key or base URL changes while the app runs: each request takes the
        # client afresh (a retry too), so a job followed for hours moves to the new one.
        self._openai = LazyClient(client_factory, client_settings)
        self.registry = registry
        # A setting read at each poll: a job followed for hours takes a new interval at once.
        self._poll_setting = poll_seconds
        self._max_backoff = max_backoff_seconds
        self._upload_deadline = upload_deadline_seconds
        self._events = events
        self._sleep = sleep

    @property
    def poll_seconds(self) -> float:
        """Seconds between two polls of a job followed, as set now."""
        setting = self._poll_setting
        return setting() if callable(setting) else setting

    @property
    def client(self) -> openai.AsyncOpenAI:
        """The client as it is now, not renewed: for a caller's own one-off request."""
        return self._openai.client

    async def close(self) -> None:
        """Close the client's connections; a later call opens a new client."""
        await self._openai.close()

    async def upload(self, path: Path, progress: ProgressCallback | None = None) -> str:
        """Upload a JSONL file for fine-tuning; its id, as soon as OpenAI has stored it.

        There is nothing to wait for after that: the file's status field is deprecated, and the
        job checks the file itself (a bad file fails the job with the reason as its error).
        """
        data = await asyncio.to_thread(path.read_bytes)
        reader = _ProgressReader(path.name, data, progress)
        try:
            async with asyncio.timeout(self._upload_deadline):
                uploaded = await self._call(
                    lambda client: client.files.create(file=reader, purpose="fine-tune")
                )
        except TimeoutError:
            raise FineTuneError(
                f"Uploading {path.name} did not finish within {self._upload_deadline:g} s.",
                hint="Check the connection and try again.",
            ) from None
        if getattr(uploaded, "status", None) == "error":
            details = getattr(uploaded, "status_details", None) or "no details given"
            raise FineTuneError(f"OpenAI could not take {path.name}: {details}.")
        return str(uploaded.id)

    async def delete_file(self, file_id: str) -> None:
        """Remove an uploaded file nothing will use; a failure is logged, not raised."""
        import openai

        try:
            async with self._openai.use() as client:
                await client.files.delete(file_id)
        except openai.OpenAIError as error:
            log.warning("Could not delete the unused upload %s: %s", file_id, explain(error))

    async def create(
        self,
        request: JobRequest,
        *,
        dataset: str | None = None,
        estimated_cost: float | None = None,
    ) -> JobSnapshot:
        request.options.check()
        arguments = request.api_arguments()
        created = await self._call(lambda client: client.fine_tuning.jobs.create(**arguments))
        job = snapshot(created)
        await self.registry.record(job, dataset=dataset, estimated_cost=estimated_cost)
        return job

    async def retrieve(self, job_id: str) -> JobSnapshot:
        return await self._retrieve(job_id, None)

    async def _retrieve(self, job_id: str, patience: _Patience | None) -> JobSnapshot:
        return snapshot(await self._retrying(partial(_job, job_id), patience))

    async def cancel(self, job_id: str) -> JobSnapshot:
        job = snapshot(await self._call(lambda client: client.fine_tuning.jobs.cancel(job_id)))
        await self.registry.update(job)
        return job

    async def pause(self, job_id: str) -> JobSnapshot:
        """Pause a running job (it keeps its progress); ``resume`` goes on from there."""
        return await self._switch(
            job_id, lambda client: client.fine_tuning.jobs.pause(job_id), "running", "pause"
        )

    async def resume(self, job_id: str) -> JobSnapshot:
        return await self._switch(
            job_id, lambda client: client.fine_tuning.jobs.resume(job_id), "paused", "resume"
        )

    async def _switch(self, job_id: str, request: Request, needed: str, verb: str) -> JobSnapshot:
        try:
            job = snapshot(await self._call(request))
        except OpenAIError as error:
            if error.__cause__ is not None and is_transient(error.__cause__):
                raise  # out of reach or overloaded: asking for the job's state would fail too
            # Say why in the job's terms when it is simply in the wrong state.
            current = await self.retrieve(job_id)
            if current.status != needed:
                raise FineTuneError(
                    f"Job {job_id} is {current.status}; only a {needed} job can {verb}."
                ) from error
            raise
        await self.registry.update(job)
        if self._events is not None:
            self._events.publish(JobUpdated(job.id, job.status, job.fine_tuned_model))
        return job

    async def checkpoints(self, job_id: str) -> list[Checkpoint]:
        """A job's checkpoints (a model each, with its step's metrics), oldest step first;
        recorded in the registry too. A job without any is one clear error."""
        found = await self._retrying(partial(_checkpoints_page, job_id))
        checkpoints = sorted((_checkpoint(item) for item in found.data), key=lambda c: c.step)
        if not checkpoints:
            job = await self.retrieve(job_id)
            raise FineTuneError(
                f"Job {job_id} ({job.status}) has no checkpoints.",
                hint="OpenAI keeps one at the end of each epoch once the job is running.",
            )
        if await self.registry.job(job_id) is not None:
            await self.registry.add_checkpoints(job_id, checkpoints)
        return checkpoints

    async def track(self, job_id: str) -> JobSnapshot:
        """Record a job started elsewhere (the dashboard, another machine) to follow it here."""
        job = await self.retrieve(job_id)
        await self.registry.record(job, dataset=None, estimated_cost=None)
        return job

    async def list_jobs(
        self, *, limit: int = 20, after: str | None = None
    ) -> tuple[list[JobSnapshot], bool]:
        """One page of the account's jobs, newest first, and whether more pages follow."""
        options: dict[str, Any] = {"limit": limit, **({"after": after} if after else {})}
        page = await self._call(lambda client: client.fine_tuning.jobs.list(**options))
        return [snapshot(job) for job in page.data], bool(page.has_more)

    async def poll(self, job_id: str) -> JobUpdate:
        """Fetch the job once: its state and every event and checkpoint not seen before."""
        return await self._poll(job_id, None)

    async def _poll(self, job_id: str, patience: _Patience | None) -> JobUpdate:
        job = await self._retrieve(job_id, patience)
        await self.registry.update(job)
        new_events = await self._all_new_events(job_id, patience)
        events = await self.registry.add_events(job_id, new_events)
        checkpoints: list[Checkpoint] = []
        if job.status in ("running", "succeeded"):
            found = await self._retrying(partial(_checkpoints_page, job_id), patience)
            checkpoints = await self.registry.add_checkpoints(
                job_id, [_checkpoint(item) for item in found.data]
            )
        if self._events is not None:
            self._events.publish(JobUpdated(job.id, job.status, job.fine_tuned_model))
        return JobUpdate(job, events, checkpoints)

    async def follow(
        self, job_id: str, *, waiting: RetryingCallback | None = None
    ) -> AsyncIterator[JobUpdate]:
        """Poll until the job finishes, yielding every change. Transient trouble (OpenAI out
        of reach, rate limits, server errors) is waited out as long as it lasts, each wait
        logged and told to ``waiting``; stop following by closing or cancelling the iteration."""

        patience = _Patience(job_id, waiting)
        while True:
            update = await self._poll(job_id, patience)
            yield update
            if update.job.finished:
                return
            await self._sleep(self.poll_seconds)

    async def _all_new_events(self, job_id: str, patience: _Patience | None) -> list[JobEvent]:
        """Pages of events (newest first) until one holds an event the registry already has.

        A page must move the cursor on: a server that answers the same page again, or pages
        without end, is read no further (up to MAX_EVENT_PAGES pages a poll).
        """
        known = {event.id for event in await self.registry.events(job_id)}
        found: dict[str, JobEvent] = {}
        after: str | None = None
        for _ in range(MAX_EVENT_PAGES):
            page = await self._retrying(partial(_events_page, job_id, after), patience)
            events = [_event(item) for item in page.data]
            fresh = [event for event in events if event.id not in known and event.id not in found]
            found.update((event.id, event) for event in fresh)
            if len(fresh) < len(events) or not page.has_more or not fresh:
                break
            after = events[-1].id
        else:
            log.warning("Job %s: stopped reading events after %d pages", job_id, MAX_EVENT_PAGES)
        return list(found.values())

    async def _retrying(self, request: Request, patience: _Patience | None = None) -> Any:
        """Repeat a read request through transient errors, backing off; others are raised.
        Asked once, it gives up after a few tries; following a job (``patience``), never."""
        import openai

        retrying = AsyncRetrying(
            retry=retry_if_exception(is_transient),
            sleep=self._sleep,
            reraise=True,
            **(self._waiting_out(patience) if patience else _READ_ONCE),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    async with self._openai.use() as client:
                        return await request(client)
        except openai.OpenAIError as error:
            raise explain(error) from error
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def _waiting_out(self, patience: _Patience) -> dict[str, Any]:
        """A followed job's retry policy: no end, spaced like its polls, each wait told."""
        wait = wait_exponential_jitter(multiplier=self.poll_seconds, max=self._max_backoff)
        return {"stop": stop_never, "wait": wait, "before_sleep": patience.tell}

    async def _call(self, request: Request) -> Any:
        """A request that changes something: not repeated beyond the client's own retries."""
        import openai

        try:
            async with self._openai.use() as client:
                return await request(client)
        except openai.OpenAIError as error:
            raise explain(error) from error


_READ_ONCE: dict[str, Any] = {
    "stop": stop_after_attempt(READ_ATTEMPTS) | stop_before_delay(READ_PATIENCE_SECONDS),
    "wait": wait_exponential_jitter(max=READ_MAX_WAIT_SECONDS),
}


@dataclass(frozen=True)
class _Patience:
    """A job being followed: its reads wait trouble out, each wait logged and told to
    ``waiting``."""

    job_id: str
    waiting: RetryingCallback | None

    def tell(self, state: RetryCallState) -> None:
        import openai

        error = state.outcome.exception() if state.outcome else None
        assert isinstance(error, openai.OpenAIError)  # only those are retried
        seconds = state.next_action.sleep if state.next_action else 0.0
        notice = Retrying(self.job_id, user_message(explain(error)), seconds)
        log.info("%s", notice.describe())
        if self.waiting is not None:
            self.waiting(notice)


def _job(job_id: str, client: openai.AsyncOpenAI) -> Awaitable[Any]:
    return client.fine_tuning.jobs.retrieve(job_id)


def _events_page(job_id: str, after: str | None, client: openai.AsyncOpenAI) -> Awaitable[Any]:
    options: dict[str, Any] = {"limit": EVENTS_PER_PAGE, **({"after": after} if after else {})}
    return client.fine_tuning.jobs.list_events(job_id, **options)


def _checkpoints_page(job_id: str, client: openai.AsyncOpenAI) -> Awaitable[Any]:
    return client.fine_tuning.jobs.checkpoints.list(job_id, limit=100)


def snapshot(job: Any) -> JobSnapshot:
    method = getattr(job, "method", None)
    kind = getattr(method, "type", None) or "supervised"
    settings = getattr(method, kind, None) if method else None
    parameters = getattr(settings, "hyperparameters", None) or getattr(job, "hyperparameters", None)
    error = getattr(job, "error", None)
    return JobSnapshot(
        id=job.id,
        status=job.status,
        base_model=job.model,
        training_file=job.training_file,
        validation_file=job.validation_file,
        fine_tuned_model=job.fine_tuned_model,
        trained_tokens=job.trained_tokens,
        error=getattr(error, "message", None) if error else None,
        method=kind,
        parameters=parameters.model_dump(exclude_none=True) if parameters else {},
    )


def _event(item: Any) -> JobEvent:
    data = getattr(item, "data", None)
    return JobEvent(
        id=item.id,
        created_at=int(item.created_at),
        level=str(item.level),
        message=str(item.message),
        type=str(getattr(item, "type", None) or "message"),
        data=dict(data) if isinstance(data, dict) else {},
    )


def _checkpoint(item: Any) -> Checkpoint:
    metrics = item.metrics.model_dump(exclude_none=True) if item.metrics else {}
    return Checkpoint(item.id, int(item.step_number), item.fine_tuned_model_checkpoint, metrics)


class _ProgressReader(io.BytesIO):
    """The upload's bytes, reporting how many the HTTP client has read so far."""

    def __init__(self, name: str, data: bytes, progress: ProgressCallback | None) -> None:
        super().__init__(data)
        self.name = name
        self._total = len(data)
        self._progress = progress

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        if self._progress is not None:
            self._progress(self.tell(), self._total)
        return chunk
