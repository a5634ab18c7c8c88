"""A queue of files to transcribe, a few at a time: each file's state and progress, each one
cancellable and retryable. The CLI and the Record page show it; the work happens here."""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from voxdesk.core.audio.decode import RawFormat
from voxdesk.core.errors import VoxdeskError, user_message
from voxdesk.core.stt.base import Transcript
from voxdesk.core.stt.service import SpeechService

log = logging.getLogger(__name__)


class JobState(StrEnum):
    WAITING = "waiting"
    TRANSCRIBING = "transcribing"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED = frozenset({JobState.DONE, JobState.FAILED, JobState.CANCELLED})


@dataclass(frozen=True)
class TranscriptionJob:
    """One file in the queue, as it stands; every change is a new job with the same id."""

    id: int
    path: Path
    engine: str
    model: str  # the engine's model when queued ("" when it has no choice of model)
    language: str
    words: bool = False
    translate: bool = False
    raw: RawFormat | None = None
    state: JobState = JobState.WAITING
    progress: float = 0.0
    duration: float | None = None  # seconds of sound, known once decoded
    transcript: Transcript | None = None
    error: str = ""

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def finished(self) -> bool:
        return self.state in FINISHED


JobListener = Callable[[TranscriptionJob], None]
"""Called on the event loop with a job each time it changes (state, progress, duration)."""


class TranscriptionQueue:
    """Files wait in the order they came; at most ``speech.parallel_files`` are transcribed at
    once (read at each start, so a changed setting applies to the next file)."""

    def __init__(self, speech: SpeechService) -> None:
        self._speech = speech
        self._jobs: dict[int, TranscriptionJob] = {}
        self._tasks: dict[int, asyncio.Task[Transcript]] = {}
        self._settled: dict[int, asyncio.Event] = {}
        self._listeners: list[JobListener] = []
        self._ids = itertools.count(1)

    @property
    def jobs(self) -> list[TranscriptionJob]:
        return list(self._jobs.values())

    def job(self, job_id: int) -> TranscriptionJob:
        return self._jobs[job_id]

    def subscribe(self, listener: JobListener) -> None:
        self._listeners.append(listener)

    def add(
        self,
        paths: Iterable[Path],
        *,
        engine: str | None = None,
        language: str | None = None,
        words: bool = False,
        translate: bool = False,
        raw: RawFormat | None = None,
    ) -> list[TranscriptionJob]:
        """Queue ``paths`` with these options; they start as soon as there is room."""
        speech = self._speech.settings.speech
        engine = engine or speech.engine
        language = language or speech.language
        model = self._model(engine)
        added = []
        for path in paths:
            job = TranscriptionJob(next(self._ids), path, engine, model, language, words,
                                   translate, raw)  # fmt: skip
            self._settled[job.id] = asyncio.Event()
            self._update(job)
            added.append(job)
        self._start_waiting()
        return added

    def cancel(self, job_id: int) -> bool:
        """Stop a file waiting or under way; False if it had already finished."""
        job = self._jobs[job_id]
        if job.state is JobState.WAITING:
            self._update(replace(job, state=JobState.CANCELLED))
        elif job.state is JobState.TRANSCRIBING:
            self._tasks[job_id].cancel()  # the job turns cancelled when its task ends
        return not job.finished

    def cancel_all(self) -> None:
        for job in self.jobs:
            self.cancel(job.id)

    def retry(self, job_id: int) -> bool:
        """Queue a failed or cancelled file again (at its place); False if it was not one."""
        job = self._jobs[job_id]
        if job.state not in (JobState.FAILED, JobState.CANCELLED):
            return False
        self._update(replace(job, state=JobState.WAITING, progress=0.0, error=""))
        self._start_waiting()
        return True

    async def wait(self, jobs: Iterable[TranscriptionJob] | None = None) -> list[TranscriptionJob]:
        """Until these jobs (all by default) have finished; they, as they ended."""
        ids = [job.id for job in jobs] if jobs is not None else list(self._jobs)
        while not all(self._jobs[job_id].finished for job_id in ids):
            for job_id in ids:  # a retry while waiting makes a job unfinished again
                await self._settled[job_id].wait()
        return [self._jobs[job_id] for job_id in ids]

    async def close(self) -> None:
        """Cancel everything and wait for the files under way to stop."""
        self.cancel_all()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    def _start_waiting(self) -> None:
        room = self._speech.settings.speech.parallel_files - len(self._tasks)
        for job in self.jobs:
            if room <= 0:
                return
            if job.state is JobState.WAITING:
                self._update(replace(job, state=JobState.TRANSCRIBING, progress=0.0))
                task = asyncio.create_task(self._transcribe(job))
                # a callback, not an except clause: a task cancelled before it began never runs
                task.add_done_callback(functools.partial(self._ended, job.id))
                self._tasks[job.id] = task
                room -= 1

    def _ended(self, job_id: int, task: asyncio.Task[Transcript]) -> None:
        del self._tasks[job_id]
        if task.cancelled():
            self._change(job_id, state=JobState.CANCELLED)
        elif isinstance(error := task.exception(), VoxdeskError):
            self._change(job_id, state=JobState.FAILED, error=user_message(error))
        elif error is not None:  # an engine's bug fails its file, not the queue
            log.error("Transcribing %s failed", self._jobs[job_id].name, exc_info=error)
            self._change(job_id, state=JobState.FAILED, error=f"Unexpected error: {error}")
        else:
            self._change(job_id, state=JobState.DONE, progress=1.0, transcript=task.result())
        self._start_waiting()

    async def _transcribe(self, job: TranscriptionJob) -> Transcript:
        """Decoded first, so that its length shows while it is transcribed."""
        speech = self._speech
        speech.check(job.engine, job.language, translate=job.translate)  # before a long decode
        started = time.perf_counter()
        audio = await speech.decode(job.path, raw=job.raw, name=job.name)
        decode_seconds = time.perf_counter() - started
        self._change(job.id, duration=audio.duration)
        transcript = await speech.transcribe_pcm(
            audio, engine=job.engine, language=job.language, words=job.words,
            translate=job.translate, progress=lambda done: self._change(job.id, progress=done),
        )  # fmt: skip
        timings = replace(transcript.timings, decode_seconds=decode_seconds)
        return replace(transcript, timings=timings)

    def _model(self, engine: str) -> str:
        settings = self._speech.settings
        models = {"whisper": settings.speech.whisper_model,
                  "openai": settings.openai.transcription_model}  # fmt: skip
        return models.get(engine, "")

    def _change(self, job_id: int, **changes: Any) -> None:
        self._update(replace(self._jobs[job_id], **changes))

    def _update(self, job: TranscriptionJob) -> None:
        self._jobs[job.id] = job
        if job.finished:
            self._settled[job.id].set()
        else:
            self._settled[job.id].clear()
        for listener in self._listeners:
            listener(job)
