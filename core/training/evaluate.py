"""Evaluating models on a dataset split: the same prompts to every model, every answer kept.

A trainer holds some examples out as a split (the examples tagged with its name, ``validation``
by default); each model (a base model, a fine-tuned one, its checkpoints) answers every prompt
of it. An answer is scored against the example's reference answer (rapidfuzz similarity) and,
with a judge model, by the judge's verdict and reasoning. For a correction from Discord the
bot's original answer stays beside the trainer's correction and each model's answer now.

Requests run with bounded concurrency, under a client-side rate limit (a token bucket), and are
retried on 429 and 5xx with backoff, waiting as long as Retry-After asks. One task owns each
prompt-and-model pair, whose stored answer has that pair as its key: a retry repeats a request,
never an answer. Answers are stored as they arrive (a batch a transaction), and those not yet
stored are when the evaluation ends, fails or is stopped: a stopped evaluation keeps them all.
"""

from __future__ import annotations

import asyncio
import csv
import email.utils
import json
import os
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from statistics import fmean
from typing import TYPE_CHECKING, Any, Literal

import psutil
from aiolimiter import AsyncLimiter
from pydantic import BaseModel, ValidationError
from rapidfuzz import fuzz, utils
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from voxdesk.core.errors import VoxdeskError
from voxdesk.core.events import EvaluationEnded
from voxdesk.core.openai_client import explain, make_client, unreachable
from voxdesk.core.training.database import Database, Transaction, now
from voxdesk.core.training.finetune import is_transient
from voxdesk.core.training.pricing import answer_cost
from voxdesk.core.training.store import DatasetStore, Example, Status
from voxdesk.core.training.tokens import (
    REPLY_PRIMING_TOKENS,
    TOKENS_PER_MESSAGE,
    count_texts,
    encoding_for_model,
)
from voxdesk.core.training.transfer import VALIDATION_TAG
from voxdesk.core.work import on_own_loop

if TYPE_CHECKING:  # openai is imported where used, as in voxdesk.core.openai_client: it is slow
    import openai

    from voxdesk.core.services import Services

DEFAULT_SPLIT = VALIDATION_TAG  # the split exports hold out of training
NO_VERDICT = "no verdict"
Verdict = Literal["correct", "partly", "wrong"]
VERDICT_RANK: dict[str, int] = {"correct": 2, "partly": 1, "wrong": 0}
SAVE_EVERY = 25  # answers stored a transaction; the rest when the evaluation ends or stops
QUICK_TEST_PROMPTS = 5  # what !test asks: a quick look, not the whole split
QUICK_TEST_MOST = 50  # !test N asks up to this many: the whole split is the window's or CLI's
LEARNT_SIMILARITY = 80.0  # a correction counts as learnt from this similarity up
JUDGE_COMPLETION_TOKENS = 80  # a verdict and one sentence, for the estimate
JUDGE_INSTRUCTIONS = (
    "You grade a chatbot's answer against a trainer's reference answer to the same "
    "conversation. verdict: 'correct' when the answer says what the reference says, 'partly' "
    "when it says only some of it, 'wrong' otherwise. reasoning: one sentence."
)
JUDGE_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {
        "name": "verdict",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {
                "verdict": {"type": "string", "enum": list(VERDICT_RANK)},
                "reasoning": {"type": "string"},
            },
            "required": ["verdict", "reasoning"],
            "additionalProperties": False,
        },
    },
}


def dollars(amount: float) -> str:
    """An amount as people read prices: cents for most, a bound for the tiniest."""
    return f"${amount:,.4f}" if amount >= 0.0001 or amount == 0 else "< $0.0001"


class EvaluationError(VoxdeskError):
    """An evaluation cannot start: no such model, no split, nothing to ask."""


@dataclass(frozen=True)
class EvalCase:
    """One prompt: the conversation before the reference answer, and the bot's original."""

    example_id: int
    messages: tuple[dict[str, Any], ...]
    reference: str
    original: str | None = None  # the bot's answer a trainer corrected

    @property
    def prompt(self) -> str:
        users = [m for m in self.messages if m.get("role") == "user"]
        return _text(users[-1].get("content")) if users else ""


@dataclass(frozen=True)
class Estimate:
    requests: int
    prompt_tokens: int
    completion_tokens: int
    dollars: float
    unpriced: tuple[str, ...] = ()  # models without a known price, left out of ``dollars``

    def describe(self) -> str:
        text = (
            f"{self.requests} requests, about {self.prompt_tokens + self.completion_tokens:,} "
            f"tokens, estimated at {dollars(self.dollars)}"
        )
        if self.unpriced:
            text += f" (no price known for {', '.join(self.unpriced)})"
        return text + "."


@dataclass(frozen=True)
class EvalPlan:
    dataset: str
    split: str
    models: tuple[str, ...]
    cases: tuple[EvalCase, ...]
    estimate: Estimate
    judge: str | None = None
    job_id: str | None = None  # the registry's job these models came from


@dataclass(frozen=True)
class Limits:
    concurrency: int = 8
    requests_per_minute: float = 500
    attempts: int = 6
    max_wait_seconds: float = 60.0

    def check(self) -> None:
        if self.concurrency < 1 or self.requests_per_minute <= 0 or self.attempts < 1:
            raise EvaluationError("Concurrency, requests per minute and attempts must be above 0.")


@dataclass(frozen=True)
class Answer:
    example_id: int
    model: str
    text: str | None
    error: str | None = None
    similarity: float | None = None  # 0 to 100, against the reference
    verdict: str | None = None  # a judge's, or NO_VERDICT; None without a judge
    reasoning: str = ""
    latency: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None  # with the judge's request for it
    attempts: int = 1


@dataclass(frozen=True)
class ModelSummary:
    model: str
    answered: int
    failed: int
    mean_similarity: float | None
    wins: int
    cost: float | None
    mean_latency: float | None
    verdicts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    answer: Answer


@dataclass(frozen=True)
class EvalResult:
    id: int
    plan: EvalPlan
    answers: tuple[Answer, ...]
    state: str

    def answer(self, example_id: int, model: str) -> Answer | None:
        return next(
            (a for a in self.answers if a.example_id == example_id and a.model == model), None
        )

    def corrections_learnt(self) -> dict[str, tuple[int, int]]:
        """Per model: the corrections it now answers as the trainer did (the judge says
        correct, or without one the answer is near the correction and nearer to it than to the
        bot's original answer), out of how many corrections were asked."""
        corrected = [case for case in self.plan.cases if case.original is not None]
        if not corrected:
            return {}
        return {model: (sum(1 for case in corrected if self.learnt(case, model)), len(corrected))
                for model in self.plan.models}  # fmt: skip

    def learnt(self, case: EvalCase, model: str) -> bool:
        answer = self.answer(case.example_id, model)
        if answer is None or answer.text is None or case.original is None:
            return False
        if answer.verdict in VERDICT_RANK:
            return answer.verdict == "correct"
        score = answer.similarity or 0.0
        return score >= LEARNT_SIMILARITY and score > similarity(answer.text, case.original)

    def summaries(self) -> list[ModelSummary]:
        return summarize(self.plan, self.answers)

    def rows(self) -> list[dict[str, Any]]:
        """One row per prompt and model, with the prompt, reference and original beside it."""
        cases = {case.example_id: case for case in self.plan.cases}
        return [
            {"example_id": a.example_id, "prompt": cases[a.example_id].prompt,
             "reference": cases[a.example_id].reference,
             "original": cases[a.example_id].original, **asdict(a)}
            for a in sorted(self.answers, key=lambda a: (a.example_id, a.model))
        ]  # fmt: skip


ProgressCallback = Callable[[Progress], None]


async def plan_evaluation(
    services: Services,
    models: Sequence[str],
    dataset: str,
    *,
    split: str = DEFAULT_SPLIT,
    limit: int | None = None,
    judge: str | None = None,
) -> EvalPlan:
    """What an evaluation would ask and cost; raises before any answer if it can't run."""
    chosen = tuple(dict.fromkeys(model.strip() for model in models if model.strip()))
    if not chosen:
        raise EvaluationError("Name at least one model to evaluate.")
    cases = await load_cases(services.datasets, dataset, split, limit)
    client = services.openai_client()
    try:
        await check_models(client, [*chosen, *([judge] if judge else [])])
    finally:
        await client.close()
    return EvalPlan(
        dataset, split, chosen, cases, estimate(cases, chosen, judge), judge,
        await EvaluationStore(services.database).job_of(chosen),
    )  # fmt: skip


async def evaluate_reply_model(
    services: Services, dataset: str, *, limit: int = QUICK_TEST_PROMPTS
) -> EvalResult:
    """The reply model (with its base model, for a fine-tune) on a few of the dataset's
    validation prompts: the quick check ``!test`` runs."""
    if not 1 <= limit <= QUICK_TEST_MOST:
        raise EvaluationError(
            f"A quick test asks 1 to {QUICK_TEST_MOST} prompts, not {limit}.",
            hint="voxdesk finetune eval or the window's Evaluate tab ask the whole split.",
        )
    model = services.settings.assistant.model
    base = model.removeprefix("ft:").split(":")[0]
    models = [base, model] if model.startswith("ft:") else [model]
    plan = await plan_evaluation(services, models, dataset, limit=limit)
    return await evaluate(services, plan, limits=Limits(concurrency=4))


def summary_lines(result: EvalResult) -> list[str]:
    """The summary as plain lines, one a model, for a chat message."""
    plan = result.plan
    lines = [f"{len(plan.cases)} '{plan.split}' prompts of '{plan.dataset}':"]
    for row in result.summaries():
        similar = "-" if row.mean_similarity is None else f"{row.mean_similarity:.1f}"
        latency = "-" if row.mean_latency is None else f"{row.mean_latency:.2f} s"
        cost = "?" if row.cost is None else dollars(row.cost)
        failed = f", {row.failed} failed" if row.failed else ""
        lines.append(f"{row.model}: similarity {similar}, {row.wins} won, {cost}, "
                     f"{latency}{failed}")  # fmt: skip
    for model, (learnt, asked) in result.corrections_learnt().items():
        lines.append(f"{model} answers {learnt} of {asked} corrections as the trainer did.")
    return lines


async def load_cases(
    store: DatasetStore, dataset: str, split: str, limit: int | None = None
) -> tuple[EvalCase, ...]:
    """The split's prompts with reference answers (rejected examples left out), oldest first."""
    await store.dataset(dataset)  # no such dataset: its own one-line error
    cases: list[EvalCase] = []
    after = 0
    while (limit is None or len(cases) < limit) and (
        batch := await store.examples(dataset, tag=split, after_id=after, limit=500)
    ):
        cases += [c for e in batch if e.status != Status.REJECTED and (c := case_of(e))]
        after = batch[-1].id
    if not cases:
        raise EvaluationError(
            f"Dataset '{dataset}' has no '{split}' split to evaluate on.",
            hint=f"Hold some examples out first: voxdesk finetune split {dataset} --share 0.1",
        )
    return tuple(cases[:limit])


def case_of(example: Example) -> EvalCase | None:
    """A chat example up to its last assistant message, or a preference pair; else None."""
    if example.kind == "preference":
        preferred = example.record.get("preferred_output") or [{}]
        rejected = example.record.get("non_preferred_output") or [{}]
        messages, reference = example.messages, _text(preferred[-1].get("content"))
        original: str | None = _text(rejected[0].get("content")) or None
    else:
        turns = example.messages
        last = max((i for i, m in enumerate(turns) if m.get("role") == "assistant"), default=-1)
        messages, reference = turns[: max(last, 0)], _text(turns[last].get("content"))
        original = example.metadata.get("rejected_reply")
    if messages and messages[-1].get("role") == "user" and reference:
        return EvalCase(example.id, tuple(messages), reference, original)
    return None


async def hold_out(
    store: DatasetStore, dataset: str, share: float, *, seed: int = 0, split: str = DEFAULT_SPLIT
) -> int:
    """Tag a seeded share of the approved examples as the split; how many it holds now."""
    if not 0 < share < 1:
        raise EvaluationError("The share held out must be above 0 and below 1, e.g. 0.1.")
    examples = [e async for e in store.each_example(dataset, status=Status.APPROVED)]
    usable = [e for e in examples if case_of(e) is not None]
    if len(usable) < 2:
        raise EvaluationError(
            f"Dataset '{dataset}' needs at least 2 approved examples to hold some out.",
            hint="Approve candidates first (voxdesk dataset approve).",
        )
    count = max(1, round(len(usable) * share))
    held = [e for e in usable if split in e.tags]
    chosen = random.Random(seed).sample([e for e in usable if split not in e.tags],
                                        max(0, count - len(held)))  # fmt: skip
    for example in chosen:
        await store.update(example.id, tags=[*example.tags, split])
    return len(held) + len(chosen)


async def check_models(client: openai.AsyncOpenAI, models: Sequence[str]) -> None:
    """Every model exists for this key; the first that doesn't is one clear line."""
    import openai

    async def check(model: str) -> None:
        try:
            await client.models.retrieve(model)
        except openai.NotFoundError:
            raise EvaluationError(
                f"There is no model '{model}' on this account (OpenAI answered 404).",
                hint="voxdesk finetune list shows fine-tuned models; check the spelling.",
            ) from None
        except openai.OpenAIError as error:
            raise explain(error) from error

    await asyncio.gather(*(check(model) for model in dict.fromkeys(models)))


def estimate(cases: Sequence[EvalCase], models: Sequence[str], judge: str | None) -> Estimate:
    """Requests, tokens and dollars, the reference answers standing for the answers to come."""
    requests = prompt_total = completion_total = 0
    dollars = 0.0
    unpriced: list[str] = []
    for model in models:
        prompt, completion = _tokens(cases, model, judged=False)
        cost = answer_cost(model, prompt, completion)
        requests += len(cases)
        if judge is not None:
            judge_prompt, judge_completion = _tokens(cases, judge, judged=True)
            judge_cost = answer_cost(judge, judge_prompt, judge_completion)
            prompt, completion = prompt + judge_prompt, completion + judge_completion
            cost = None if cost is None or judge_cost is None else cost + judge_cost
            requests += len(cases)
        prompt_total, completion_total = prompt_total + prompt, completion_total + completion
        if cost is None:
            unpriced += [m for m in (model, judge) if m and answer_cost(m, 0, 0) is None]
        else:
            dollars += cost
    return Estimate(requests, prompt_total, completion_total, round(dollars, 6),
                    tuple(dict.fromkeys(unpriced)))  # fmt: skip


def _tokens(cases: Sequence[EvalCase], model: str, *, judged: bool) -> tuple[int, int]:
    encoding = encoding_for_model(model)
    if judged:
        texts = [_judge_prompt(case, case.reference) for case in cases]
        counts = count_texts([JUDGE_INSTRUCTIONS, *texts], encoding)
        overhead = 2 * TOKENS_PER_MESSAGE + REPLY_PRIMING_TOKENS
        prompt = sum(counts[1:]) + len(cases) * (counts[0] + overhead)
        return prompt, len(cases) * JUDGE_COMPLETION_TOKENS
    texts = [_text(m.get("content")) for case in cases for m in case.messages]
    overhead = sum(len(c.messages) * TOKENS_PER_MESSAGE + REPLY_PRIMING_TOKENS for c in cases)
    prompt = sum(count_texts(texts, encoding)) + overhead
    return prompt, sum(count_texts([case.reference for case in cases], encoding))


async def evaluate(
    services: Services,
    plan: EvalPlan,
    *,
    limits: Limits | None = None,
    progress: ProgressCallback | None = None,
    sleep: Callable[[float], Any] = asyncio.sleep,
) -> EvalResult:
    """Ask every model every prompt of ``plan``; cancelling the task stops it, answers kept.

    The requests run on an event loop of their own, in a worker thread: the SDK spends a
    millisecond of CPU on each answer, and fifty answers arriving together would stall the
    caller's loop (the window's, the bot's) for tens of milliseconds. That loop only hears
    ``progress``, called on it once an answer."""
    limits = limits or Limits()
    limits.check()
    store = EvaluationStore(services.database)
    caller = asyncio.get_running_loop()

    def heard(step: Progress) -> None:
        if progress is not None:
            caller.call_soon_threadsafe(progress, step)

    # The record is written even if this is stopped while it is: then its end is written too.
    begun = asyncio.ensure_future(store.begin(plan))
    state = "failed"
    try:
        evaluation_id = await asyncio.shield(begun)
        answers = await on_own_loop(
            partial(_ask_all, services, plan, evaluation_id, limits, sleep, heard)
        )
        state = "finished"
    except asyncio.CancelledError:
        state = "cancelled"
        raise
    finally:  # however it ended, its answers are stored by now: so is how it ended
        await asyncio.shield(_end(services, plan, begun, state))
    return EvalResult(evaluation_id, plan, answers, state)


async def _end(services: Services, plan: EvalPlan, begun: asyncio.Future[int], state: str) -> None:
    await asyncio.wait([begun])
    if begun.exception() is not None:  # never recorded: nothing to end
        return
    await EvaluationStore(services.database).finish(begun.result(), state)
    services.events.publish(EvaluationEnded(begun.result(), plan.job_id))


async def _ask_all(
    services: Services, plan: EvalPlan, evaluation_id: int, limits: Limits,
    sleep: Callable[[float], Any], heard: ProgressCallback,
) -> tuple[Answer, ...]:  # fmt: skip
    store = EvaluationStore(services.database)
    answers: list[Answer] = []
    unsaved: list[Answer] = []
    total = len(plan.cases) * len(plan.models)

    async def one(asker: _Asker, case: EvalCase, model: str) -> None:
        answer = await asker.answer(case, model, plan.judge)
        answers.append(answer)
        unsaved.append(answer)
        if len(unsaved) >= SAVE_EVERY:
            # A batch a transaction: one hop to the database thread per batch, not per answer.
            batch = unsaved[:]
            unsaved.clear()
            await store.add(evaluation_id, batch)
        heard(Progress(len(answers), total, answer))

    try:
        # Here: the asker's client belongs to this loop.
        async with _Asker(services, limits, sleep) as asker, asyncio.TaskGroup() as group:
            for case in plan.cases:
                for model in plan.models:
                    group.create_task(one(asker, case, model))
    except ExceptionGroup as group:  # a refused key, OpenAI out of reach: one error to show
        raise group.exceptions[0] from None
    finally:
        await asyncio.shield(store.add(evaluation_id, unsaved))
    return tuple(answers)


class _Asker:
    """Chat requests under a concurrency bound and a token bucket, retried through trouble."""

    def __init__(self, services: Services, limits: Limits, sleep: Callable[[float], Any]) -> None:
        import openai

        # aiohttp's transport takes half the CPU httpx's does a request. Retries are ours
        # (with Retry-After and the rate limit), not the client's as well.
        self._client = make_client(
            services.settings.openai, services.secrets, max_retries=0,
            http_client=openai.DefaultAioHttpClient(),
        )  # fmt: skip
        self._limits = limits
        self._sleep = sleep
        self._slots = asyncio.Semaphore(limits.concurrency)
        # A bucket holding half a second's requests (at least one): a minute's allowance never
        # leaves at once, as OpenAI also enforces its per-minute limits in shorter windows, and
        # requests bunched on the way (a busy loop, the network) still keep to a second's.
        per_second = limits.requests_per_minute / 60
        capacity = max(1.0, per_second / 2)
        self._bucket = AsyncLimiter(capacity, capacity / per_second)

    async def __aenter__(self) -> _Asker:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._client.close()

    async def answer(self, case: EvalCase, model: str, judge: str | None) -> Answer:
        import openai

        messages = list(case.messages)
        try:
            response, attempts, latency = await self._ask(model=model, messages=messages)
        except openai.OpenAIError as error:
            # A refused key, or OpenAI out of reach once retries are spent, would fail every
            # answer after this one, each only after its own retries: it stops the evaluation.
            if isinstance(error, openai.AuthenticationError) or unreachable(error):
                raise explain(error) from error
            return Answer(case.example_id, model, None, explain(error).describe(), latency=0.0)
        text = _text(response.content)
        prompt_tokens = response.prompt_tokens or 0
        completion_tokens = response.completion_tokens or 0
        answer = Answer(
            case.example_id, model, text,
            similarity=similarity(text, case.reference), latency=latency,
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
            cost=answer_cost(model, prompt_tokens, completion_tokens), attempts=attempts,
        )  # fmt: skip
        return await self._judged(answer, case, judge) if judge else answer

    async def _judged(self, answer: Answer, case: EvalCase, judge: str) -> Answer:
        import openai

        messages = [
            {"role": "system", "content": JUDGE_INSTRUCTIONS},
            {"role": "user", "content": _judge_prompt(case, answer.text or "")},
        ]
        try:
            response, _, _ = await self._ask(
                model=judge, messages=messages, response_format=JUDGE_FORMAT, temperature=0
            )
        except openai.OpenAIError as error:
            reason = f"The judge could not be asked: {explain(error).describe()}"
            return _with_verdict(answer, NO_VERDICT, reason, None)
        verdict, reasoning = read_verdict(response.content)
        cost = None
        if response.prompt_tokens is not None and response.completion_tokens is not None:
            cost = answer_cost(judge, response.prompt_tokens, response.completion_tokens)
        return _with_verdict(answer, verdict, reasoning, cost)

    async def _ask(self, **arguments: Any) -> tuple[_Reply, int, float]:
        retrying = AsyncRetrying(
            retry=retry_if_exception(is_transient),
            stop=stop_after_attempt(self._limits.attempts),
            # As long as Retry-After asks, else full jitter: a random wait up to 0.5 s, 1 s,
            # 2 s...: requests refused together come back spread out, and the first wait (a
            # quarter second on average) is shorter than the SDK's own (0.375 to 0.5 s), whose
            # retries these replace.
            wait=_server_asked_or(
                wait_random_exponential(multiplier=0.5, max=self._limits.max_wait_seconds),
                self._limits.max_wait_seconds,
            ),
            sleep=self._sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                async with self._slots:
                    await self._bucket.acquire()
                    started = time.perf_counter()
                    # The request chat.completions.create sends, without its parameter
                    # transform (for plain message dicts it only copies them) and its
                    # response model: together half the SDK's CPU a request.
                    data = await self._client.post(
                        "/chat/completions", cast_to=object, body=arguments,
                        options={"security": {"bearer_auth": True}},
                    )  # fmt: skip
                    number = attempt.retry_state.attempt_number
                    return _Reply.of(data), number, time.perf_counter() - started
        raise AssertionError("unreachable: tenacity re-raises the last error")


@dataclass(frozen=True)
class _Reply:
    """What an evaluation reads of a chat completion: the first choice's text, the usage."""

    content: str | None
    prompt_tokens: int | None
    completion_tokens: int | None

    @classmethod
    def of(cls, data: object) -> _Reply:
        found = data if isinstance(data, dict) else {}
        choices = found.get("choices") or [{}]
        usage = found.get("usage") or {}
        message = choices[0].get("message") or {}
        return cls(message.get("content"), usage.get("prompt_tokens"),
                   usage.get("completion_tokens"))  # fmt: skip


def _with_verdict(answer: Answer, verdict: str, reasoning: str, cost: float | None) -> Answer:
    total = None if answer.cost is None or cost is None else answer.cost + cost
    values = asdict(answer) | {"verdict": verdict, "reasoning": reasoning, "cost": total}
    return Answer(**values)


def _server_asked_or(
    fallback: Callable[[RetryCallState], float], longest: float
) -> Callable[[RetryCallState], float]:
    """Wait as long as the server's Retry-After asks (up to ``longest``), else back off."""

    def wait(state: RetryCallState) -> float:
        import openai

        error = state.outcome.exception() if state.outcome else None
        asked = retry_after(error) if isinstance(error, openai.APIStatusError) else None
        return min(asked, longest) if asked is not None else fallback(state)

    return wait


def retry_after(error: openai.APIStatusError) -> float | None:
    """Seconds the server asked to wait: retry-after-ms, or Retry-After in seconds or a date."""
    headers = error.response.headers
    try:
        if (milliseconds := headers.get("retry-after-ms")) is not None:
            return max(0.0, float(milliseconds) / 1000)
        if (value := headers.get("retry-after")) is None:
            return None
        if value.strip().replace(".", "", 1).isdigit():
            return float(value)
        when = email.utils.parsedate_to_datetime(value)
    except (ValueError, TypeError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class _JudgeAnswer(BaseModel):
    verdict: Verdict
    reasoning: str


def read_verdict(content: str | None) -> tuple[str, str]:
    """The judge's verdict and its reasoning on one line; NO_VERDICT for anything else."""
    try:
        found = _JudgeAnswer.model_validate_json(content or "")
    except ValidationError:
        return NO_VERDICT, "The judge did not answer with a verdict and a reason."
    return found.verdict, " ".join(found.reasoning.split())[:300]


def similarity(answer: str, reference: str) -> float:
    """0 to 100: how alike two answers read, case, punctuation and spacing aside."""
    return round(float(fuzz.ratio(answer, reference, processor=utils.default_process)), 1)


def summarize(plan: EvalPlan, answers: Sequence[Answer]) -> list[ModelSummary]:
    """Per model: mean similarity, prompts won outright, cost, latency and verdicts."""
    wins = Counter(_winner(group, judged=plan.judge is not None)
                   for group in _by_case(answers).values())  # fmt: skip
    summaries = []
    for model in plan.models:
        mine = [a for a in answers if a.model == model]
        good = [a for a in mine if a.error is None]
        costs = [a.cost for a in good]
        summaries.append(ModelSummary(
            model, len(good), len(mine) - len(good),
            fmean(a.similarity or 0.0 for a in good) if good else None, wins[model],
            None if any(c is None for c in costs) else sum(c or 0.0 for c in costs),
            fmean(a.latency for a in good) if good else None,
            dict(Counter(a.verdict for a in good if a.verdict)),
        ))  # fmt: skip
    return summaries


def _by_case(answers: Sequence[Answer]) -> dict[int, list[Answer]]:
    groups: dict[int, list[Answer]] = {}
    for answer in answers:
        groups.setdefault(answer.example_id, []).append(answer)
    return groups


def _winner(answers: Sequence[Answer], *, judged: bool) -> str | None:
    """The model whose answer is best on this prompt (the judge first), if only one is."""

    def score(answer: Answer) -> tuple[int, float]:
        rank = VERDICT_RANK.get(answer.verdict or "", -1) if judged else 0
        return rank, answer.similarity or 0.0

    scored = sorted(((score(a), a.model) for a in answers if a.error is None), reverse=True)
    if not scored or (len(scored) > 1 and scored[0][0] == scored[1][0]):
        return None
    return scored[0][1]


def _judge_prompt(case: EvalCase, answer: str) -> str:
    conversation = "\n".join(f"{m.get('role')}: {_text(m.get('content'))}" for m in case.messages)
    return (
        f"Conversation:\n{conversation}\n\nReference answer:\n{case.reference}\n\n"
        f"Answer to grade:\n{answer}"
    )


def _text(content: Any) -> str:
    """A message's text, whether a string or a list of content parts."""
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


async def export_results(result: EvalResult, path: Path) -> Path:
    """Write the answers as JSONL or CSV (by the file's suffix), one row per prompt and model."""
    kind = path.suffix.lower()
    if kind not in (".jsonl", ".csv"):
        raise EvaluationError(
            f"Cannot export to '{path.name}'.", hint="Name a .jsonl or .csv file."
        )
    rows = result.rows()

    def write() -> None:
        with path.open("w", encoding="utf-8", newline="") as out:
            if kind == ".jsonl":
                out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
                return
            writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["example_id"])
            writer.writeheader()
            writer.writerows(rows)

    await asyncio.to_thread(write)
    return path


@dataclass(frozen=True)
class EvaluationRecord:
    id: int
    job_id: str | None
    dataset: str
    split: str
    models: tuple[str, ...]
    judge: str | None
    state: str
    estimated_cost: float | None
    started_at: str
    finished_at: str | None
    answered: int = 0  # prompts with at least one answer stored


# The evaluations this process runs now, by database file: one 'running' under this process's
# id but not here was left by an earlier process with the same id (a new container's).
_running_here: set[tuple[Path, int]] = set()


class EvaluationStore:
    """Evaluations and their answers, in the jobs' database, by the job when there is one.
    One whose process was killed stays 'running' in the database and reads as 'interrupted'."""

    def __init__(self, database: Database) -> None:
        self.db = database

    async def begin(self, plan: EvalPlan) -> int:
        def insert(connection: sqlite3.Connection) -> int:
            cursor = connection.execute(
                "INSERT INTO evaluations (job_id, dataset, split, models, judge, state,"
                " estimated_cost, started_at, pid) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?)",
                (plan.job_id, plan.dataset, plan.split, json.dumps(plan.models), plan.judge,
                 plan.estimate.dollars, now(), os.getpid()),
            )  # fmt: skip
            # On the database's thread, as listings are: none sees the record not yet running.
            _running_here.add((self.db.path, int(cursor.lastrowid or 0)))
            return int(cursor.lastrowid or 0)

        return await self.db.run(insert)

    async def add(self, evaluation_id: int, answers: Sequence[Answer]) -> None:
        # A plain INSERT: a second answer for the same prompt and model is a bug, not a retry.
        def insert(connection: sqlite3.Connection) -> None:
            with Transaction(connection):
                connection.executemany(
                    "INSERT INTO evaluation_answers (evaluation_id, example_id, model, answer,"
                    " error, similarity, verdict, reasoning, latency, prompt_tokens,"
                    " completion_tokens, cost, attempts)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(evaluation_id, a.example_id, a.model, a.text, a.error, a.similarity,
                      a.verdict, a.reasoning, a.latency, a.prompt_tokens, a.completion_tokens,
                      a.cost, a.attempts) for a in answers],
                )  # fmt: skip

        if answers:
            await self.db.run(insert)

    async def finish(self, evaluation_id: int, state: str) -> None:
        def update(connection: sqlite3.Connection) -> None:
            connection.execute(
                "UPDATE evaluations SET state = ?, finished_at = ? WHERE id = ?",
                (state, now(), evaluation_id),
            )
            _running_here.discard((self.db.path, evaluation_id))

        await self.db.run(update)

    async def evaluations(self, job_id: str | None = None) -> list[EvaluationRecord]:
        def query(connection: sqlite3.Connection) -> list[EvaluationRecord]:
            where, params = ("WHERE job_id = ?", (job_id,)) if job_id else ("", ())
            rows = connection.execute(
                "SELECT *, (SELECT COUNT(DISTINCT example_id) FROM evaluation_answers"
                f" WHERE evaluation_id = evaluations.id) AS answered FROM evaluations {where}"
                " ORDER BY id",
                params,
            )
            return [self._record(row) for row in rows]

        return await self.db.run(query)

    def _record(self, row: sqlite3.Row) -> EvaluationRecord:
        values = {key: row[key] for key in row.keys() if key != "pid"}  # noqa: SIM118
        state = row["state"]
        if state == "running" and not self._alive(row["id"], row["pid"]):
            state = "interrupted"
        return EvaluationRecord(**values | {"models": tuple(json.loads(row["models"])),
                                            "state": state})  # fmt: skip

    def _alive(self, evaluation_id: int, pid: int | None) -> bool:
        if pid == os.getpid():
            return (self.db.path, evaluation_id) in _running_here
        return pid is not None and bool(psutil.pid_exists(pid))

    async def answers(self, evaluation_id: int) -> list[Answer]:
        def query(connection: sqlite3.Connection) -> list[Answer]:
            rows = connection.execute(
                "SELECT * FROM evaluation_answers WHERE evaluation_id = ?"
                " ORDER BY example_id, model",
                (evaluation_id,),
            )
            return [_answer(row) for row in rows]

        return await self.db.run(query)

    async def job_of(self, models: Sequence[str]) -> str | None:
        """The registry's job whose fine-tuned model or checkpoint is one of ``models``."""

        def query(connection: sqlite3.Connection) -> str | None:
            marks = ", ".join("?" for _ in models)
            row = connection.execute(
                f"SELECT id FROM jobs WHERE fine_tuned_model IN ({marks}) UNION ALL"
                f" SELECT job_id FROM job_checkpoints WHERE model IN ({marks}) LIMIT 1",
                (*models, *models),
            ).fetchone()
            return str(row[0]) if row else None

        return await self.db.run(query)


def _answer(row: sqlite3.Row) -> Answer:
    values = {k: row[k] for k in row.keys() if k not in ("evaluation_id", "answer")}  # noqa: SIM118
    return Answer(text=row["answer"], **values)


async def stored_result(services: Services, record: EvaluationRecord) -> EvalResult:
    """A past evaluation rebuilt from the registry, to show and export again. Its prompts are
    read from the dataset as it is now: an example deleted or changed since stands as its id."""
    answers = tuple(await EvaluationStore(services.database).answers(record.id))
    cases = [await _stored_case(services.datasets, example_id)
             for example_id in dict.fromkeys(a.example_id for a in answers)]  # fmt: skip
    asked = Estimate(len(cases) * len(record.models), 0, 0, record.estimated_cost or 0.0)
    plan = EvalPlan(record.dataset, record.split, record.models, tuple(cases), asked,
                    record.judge, record.job_id)  # fmt: skip
    return EvalResult(record.id, plan, answers, record.state)


async def _stored_case(store: DatasetStore, example_id: int) -> EvalCase:
    try:
        case = case_of(await store.get(example_id))
    except VoxdeskError:  # deleted since
        case = None
    gone = {"role": "user", "content": f"(example {example_id} is no longer a prompt here)"}
    return case or EvalCase(example_id, (gone,), "")
