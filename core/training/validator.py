"""Validating fine-tuning JSONL: every check of OpenAI's data-preparation cookbook, and more.

The cookbook's categories and counts are reproduced (format errors, missing system/user
messages, the three distributions, examples over the token limit, the default-epochs rule and
billed tokens). Beyond it: a line number for every finding, exact and near duplicates, overlap
with a validation file, empty assistant turns, tool-call structure, preference (DPO) pairs,
secrets and personal data, the API's minimum example count, and a cost estimate.

Lines are read in chunks; each chunk's texts are counted in one parallel tokenizer call.
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson

from core.training import checks
from core.training.pricing import CostEstimate, estimate_cost
from core.training.tokens import (
    REPLY_PRIMING_TOKENS,
    Encoding,
    count_texts,
    encoding_for_model,
    message_token_parts,
)

MAX_TOKENS_PER_EXAMPLE = 16_385
TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25
MIN_EXAMPLES = 10  # the fine-tuning API refuses smaller training files
CHUNK_LINES = 20_000
MAX_FINDINGS = 10_000  # findings listed one by one; the counts stay exact beyond this

Severity = Literal["error", "warning"]
ProgressCallback = Callable[[int], None]

_ERRORS = frozenset(
    {"invalid_json", "data_type", "missing_messages_list", "message_missing_key",
     "message_unrecognized_key", "unrecognized_role", "missing_content",
     "example_missing_assistant_message", "invalid_tool_calls", "tool_message_without_call",
     "tool_call_arguments_not_json", "invalid_tools", "preference_missing_input",
     "preference_input_not_ending_with_user", "invalid_preferred_output",
     "invalid_non_preferred_output", "too_few_examples", "mixed_formats"}
)  # fmt: skip
# Near duplicates: the same words once case and ASCII punctuation are set aside.
# Bytes, not str: bytes.translate is a table lookup in C, str.translate a dict lookup per char.
_PUNCTUATION_TO_SPACE = bytes.maketrans(string.punctuation.encode(), b" " * len(string.punctuation))


@dataclass(frozen=True)
class Finding:
    line: int  # 1-based line of the JSONL file; 0 for findings about the whole file
    code: str
    message: str

    @property
    def severity(self) -> Severity:
        return "error" if self.code in _ERRORS else "warning"


@dataclass(frozen=True)
class Distribution:
    minimum: float
    maximum: float
    mean: float
    median: float
    p5: float
    p95: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Distribution | None:
        data = np.fromiter(values, dtype=np.float64)
        if data.size == 0:
            return None
        p5, median, p95 = np.percentile(data, [5, 50, 95])
        return cls(float(data.min()), float(data.max()), float(data.mean()), float(median),
                   float(p5), float(p95))  # fmt: skip


@dataclass
class ValidationReport:
    examples: int = 0
    chat_examples: int = 0
    preference_examples: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)
    messages_per_example: Distribution | None = None
    total_tokens_per_example: Distribution | None = None
    assistant_tokens_per_example: Distribution | None = None
    too_long: int = 0
    total_tokens: int = 0  # every example's tokens, uncapped (what the cookbook sums)
    epochs: int = 0
    billing_tokens: int = 0
    cost: CostEstimate | None = None
    encoding: Encoding = "cl100k_base"

    @property
    def format_errors(self) -> dict[str, int]:
        return {code: n for code, n in sorted(self.counts.items()) if code in _ERRORS}

    @property
    def warnings(self) -> dict[str, int]:
        return {code: n for code, n in sorted(self.counts.items()) if code not in _ERRORS}

    @property
    def ok(self) -> bool:
        """True when the file can be uploaded for fine-tuning as it is."""
        return not self.format_errors

    @property
    def charged_tokens(self) -> int:
        return self.epochs * self.billing_tokens


class _Accumulator:
    """What the report needs from each example, kept as compactly as possible."""

    def __init__(self, report: ValidationReport, seen: dict[int, int] | None) -> None:
        self.report = report
        self.message_counts: list[int] = []
        self.total_tokens: list[int] = []
        self.assistant_tokens: list[int] = []
        self.exact: dict[int, int] = {}
        self.near: dict[int, int] = {}
        self.other_file = seen  # near-duplicate keys of the training file, for overlap

    def add(self, line: int, code: str, message: str) -> None:
        self.report.counts[code] += 1
        if len(self.report.findings) < MAX_FINDINGS:
            self.report.findings.append(Finding(line, code, message))


def validate_file(
    path: Path,
    *,
    model: str = "gpt-4o-mini-2024-07-18",
    validation_file: Path | None = None,
    progress: ProgressCallback | None = None,
) -> ValidationReport:
    """Validate a training file (and optionally its validation file) for ``model``."""
    with path.open("rb") as handle:
        report, keys = validate_lines(handle, model=model, progress=progress)
    if validation_file is not None:
        with validation_file.open("rb") as handle:
            _report_overlap(report, handle, keys)
    return report


def validate_lines(
    lines: Iterable[bytes | str],
    *,
    model: str = "gpt-4o-mini-2024-07-18",
    progress: ProgressCallback | None = None,
) -> tuple[ValidationReport, dict[int, int]]:
    """Validate JSONL lines; also returns each example's near-duplicate key -> line."""
    report = ValidationReport(encoding=encoding_for_model(model))
    state = _Accumulator(report, None)
    done = 0
    for chunk in _chunks(lines):
        _check_chunk(chunk, state)
        done += len(chunk)
        if progress:
            progress(done)
    _summarise(report, state, model)
    return report, state.near


def _chunks(lines: Iterable[bytes | str]) -> Iterator[list[tuple[int, bytes | str]]]:
    chunk: list[tuple[int, bytes | str]] = []
    for number, line in enumerate(lines, start=1):
        chunk.append((number, line))
        if len(chunk) == CHUNK_LINES:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _check_chunk(chunk: list[tuple[int, bytes | str]], state: _Accumulator) -> None:
    texts: list[str] = []
    plans: list[tuple[int, int, int, list[tuple[int, int]]]] = []  # line, overhead, spans
    scanned: list[tuple[int, str]] = []  # (line, all text of the example) for secrets and PII
    for number, raw in chunk:
        if not raw.strip():
            continue  # blank lines are skipped by the API too
        try:
            example = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            state.report.examples += 1
            state.add(number, "invalid_json", f"not valid JSON: {error}")
            continue
        state.report.examples += 1
        plan = _check_example(number, example, state, texts, raw, scanned)
        if plan is not None:
            plans.append(plan)
    for index, code in checks.sensitive_content([text for _, text in scanned]):
        state.add(scanned[index][0], code, _describe(code))
    counts = count_texts(texts, state.report.encoding)
    for number, overhead, assistant_from, spans in plans:
        del number
        total = overhead + sum(sum(counts[a:b]) for a, b in spans[:assistant_from])
        assistant = sum(sum(counts[a:b]) for a, b in spans[assistant_from:])
        state.total_tokens.append(total)
        state.assistant_tokens.append(assistant)


def _check_example(
    number: int,
    example: Any,
    state: _Accumulator,
    texts: list[str],
    raw: bytes | str,
    scanned: list[tuple[int, str]],
) -> tuple[int, int, int, list[tuple[int, int]]] | None:
    if isinstance(example, dict) and "preferred_output" in example:
        state.report.preference_examples += 1
        for code in checks.preference_problems(example):
            state.add(number, code, _describe(code))
        _check_duplicates(number, example, state, raw, scanned)
        return None
    state.report.chat_examples += 1
    errors = checks.chat_format_errors(example)
    for code in errors:
        state.add(number, code, _describe(code))
    if errors and errors[0] in ("data_type", "missing_messages_list"):
        return None
    messages: list[Any] = example["messages"]
    dict_messages = [m for m in messages if isinstance(m, dict)]
    roles = {m.get("role") for m in dict_messages if isinstance(m.get("role"), str)}
    if "system" not in roles:
        state.add(number, "missing_system_message", _describe("missing_system_message"))
    if "user" not in roles:
        state.add(number, "missing_user_message", _describe("missing_user_message"))
    for code in checks.assistant_turn_problems(messages) + checks.tools_problems(example):
        state.add(number, code, _describe(code))
    state.message_counts.append(len(messages))
    _check_duplicates(number, example, state, raw, scanned)
    return _token_plan(number, dict_messages, texts)


def _token_plan(
    number: int, messages: list[dict[str, Any]], texts: list[str]
) -> tuple[int, int, int, list[tuple[int, int]]]:
    """Queue the strings to count; spans of every message first, then assistant contents."""
    overhead = REPLY_PRIMING_TOKENS
    spans = []
    for message in messages:
        strings, fixed = message_token_parts(message)
        overhead += fixed
        spans.append((len(texts), len(texts) + len(strings)))
        texts.extend(strings)
    assistant_from = len(spans)
    for message in messages:
        if message.get("role") == "assistant" and isinstance(message.get("content"), str):
            spans.append((len(texts), len(texts) + 1))
            texts.append(message["content"])
    return number, overhead, assistant_from, spans


def _check_duplicates(
    number: int, example: Any, state: _Accumulator, raw: bytes | str, scanned: list[tuple[int, str]]
) -> None:
    text = _all_text(example)
    scanned.append((number, text))
    exact = _key(raw.strip() if isinstance(raw, bytes) else raw.strip().encode())
    near = _near_key(text)
    if exact in state.exact:
        state.add(number, "duplicate", f"same as line {state.exact[exact]}")
    elif near in state.near:
        state.add(number, "near_duplicate", f"same words as line {state.near[near]}")
    state.exact.setdefault(exact, number)
    state.near.setdefault(near, number)


def _all_text(example: Any) -> str:
    if not isinstance(example, dict):
        return ""
    parts: list[str] = []
    for message in _all_messages(example):
        parts.append(checks.content_text(message.get("content")))
        calls = message.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            if isinstance(call, dict) and isinstance(call.get("function"), dict):
                parts.append(str(call["function"].get("arguments", "")))
    return "\n".join(parts)


def _all_messages(example: dict[str, Any]) -> Iterator[dict[str, Any]]:
    groups = [example.get("messages"), (example.get("input") or {}).get("messages")
              if isinstance(example.get("input"), dict) else None,
              example.get("preferred_output"), example.get("non_preferred_output")]  # fmt: skip
    for group in groups:
        if isinstance(group, list):
            yield from (message for message in group if isinstance(message, dict))


def _key(data: bytes) -> int:
    # Keys are compared within one run only, so the interpreter's fast hash will do.
    return hash(data)


def _near_key(text: str) -> int:
    return _key(b" ".join(text.lower().encode().translate(_PUNCTUATION_TO_SPACE).split()))


def _summarise(report: ValidationReport, state: _Accumulator, model: str) -> None:
    report.messages_per_example = Distribution.of(state.message_counts)
    report.total_tokens_per_example = Distribution.of(state.total_tokens)
    report.assistant_tokens_per_example = Distribution.of(state.assistant_tokens)
    report.too_long = sum(length > MAX_TOKENS_PER_EXAMPLE for length in state.total_tokens)
    report.total_tokens = sum(state.total_tokens)
    if report.too_long:
        report.counts["over_token_limit"] = report.too_long
    report.epochs = default_epochs(report.examples)
    report.billing_tokens = sum(min(MAX_TOKENS_PER_EXAMPLE, n) for n in state.total_tokens)
    report.cost = estimate_cost(model, report.charged_tokens)
    if report.chat_examples and report.preference_examples:
        report.counts["mixed_formats"] += 1
        report.findings.append(Finding(0, "mixed_formats", _describe("mixed_formats")))
    if report.examples < MIN_EXAMPLES:
        report.counts["too_few_examples"] += 1
        report.findings.append(
            Finding(
                0,
                "too_few_examples",
                f"{report.examples} examples; the API needs at least {MIN_EXAMPLES}",
            )
        )


def default_epochs(examples: int) -> int:
    """The number of epochs OpenAI picks by default, as the cookbook computes it."""
    if examples == 0:
        return 0
    if examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // examples)
    if examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // examples)
    return TARGET_EPOCHS


def _report_overlap(
    report: ValidationReport, lines: Iterable[bytes], train: dict[int, int]
) -> None:
    for number, raw in enumerate(lines, start=1):
        try:
            example = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        near = _near_key(_all_text(example))
        if near in train:
            report.counts["train_validation_overlap"] += 1
            report.findings.append(Finding(
                train[near], "train_validation_overlap",
                f"also in the validation file at line {number}",
            ))  # fmt: skip


_DESCRIPTIONS = {
    "data_type": "an example or message is not a JSON object",
    "missing_messages_list": "no 'messages' list",
    "message_missing_key": "a message lacks 'role' or 'content'",
    "message_unrecognized_key": "a message has a key the API does not know",
    "unrecognized_role": "a message has an unknown role",
    "missing_content": "a message has no text content",
    "example_missing_assistant_message": "no assistant message to learn from",
    "missing_system_message": "no system message",
    "missing_user_message": "no user message",
    "empty_assistant_message": "an assistant message is empty or only whitespace",
    "invalid_tool_calls": "an assistant tool call lacks id, type 'function' or function name",
    "tool_call_arguments_not_json": "tool call arguments are not a JSON string",
    "tool_message_without_call": "a tool message answers no earlier tool call",
    "invalid_tools": "'tools' is not a list of functions with names",
    "preference_missing_input": "a preference pair has no input messages",
    "preference_input_not_ending_with_user": "a preference pair's input must end with a user turn",
    "invalid_preferred_output": "'preferred_output' must be one assistant message",
    "invalid_non_preferred_output": "'non_preferred_output' must be one assistant message",
    "preference_outputs_identical": "preferred and non-preferred outputs are the same",
    "mixed_formats": "chat examples and preference pairs are mixed in one file",
    "secret_openai_key": "contains what looks like an OpenAI API key",
    "secret_discord_token": "contains what looks like a Discord token",
    "secret_aws_key": "contains what looks like an AWS access key",
    "secret_github_token": "contains what looks like a GitHub token",
    "secret_slack_token": "contains what looks like a Slack token",
    "secret_private_key": "contains a private key",
    "personal_email": "contains an email address",
    "personal_phone_number": "contains a phone number",
}


def _describe(code: str) -> str:
    return _DESCRIPTIONS.get(code, code.replace("_", " "))
