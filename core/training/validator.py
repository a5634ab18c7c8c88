"""Validating fine-tuning JSONL: every check of OpenAI's data-preparation cookbook, and more.

The cookbook's categories and counts are reproduced (format errors, missing system/user
messages, the three distributions, examples over the token limit, the default-epochs rule and
billed tokens). Beyond it: a line number for every finding, exact and near duplicates, overlap
with a validation file, empty assistant turns, tool-call structure, preference (DPO) pairs,
secrets and personal data, the API's minimum example count, and a cost estimate.

The lines are scanned by scan.py (on every core for a large file, stretches.py); this module
turns the tally into a report.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import orjson

from voxdesk.core.training.checks import all_text
from voxdesk.core.training.findings import ERRORS, Finding, capped, describe
from voxdesk.core.training.pricing import CostEstimate, estimate_cost
from voxdesk.core.training.scan import (
    ASSISTANT_TOKENS,
    EXACT_KEY,
    LINE,
    MAX_WARNINGS,
    MESSAGES,
    NEAR_KEY,
    SIZE_LINE,
    TEXT_HEAD,
    TOTAL_TOKENS,
    NotText,
    Tally,
    check_text,
    near_key,
    scan_stream,
)
from voxdesk.core.training.stretches import ByteProgress, scan_file
from voxdesk.core.training.tokens import Encoding, encoding_for_model
from voxdesk.core.work import Fraction, run_blocking

MAX_TOKENS_PER_EXAMPLE = 16_385
TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25
MIN_EXAMPLES = 10  # the fine-tuning API refuses smaller training files
DEFAULT_MODEL = "gpt-4o-mini-2024-07-18"


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
    # Every error, then the first MAX_WARNINGS warnings (and the first of each code after
    # them); each group in line order.
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
        return {code: n for code, n in sorted(self.counts.items()) if code in ERRORS}

    @property
    def warnings(self) -> dict[str, int]:
        return {code: n for code, n in sorted(self.counts.items()) if code not in ERRORS}

    @property
    def errors(self) -> list[Finding]:
        """The findings that stop an upload, in line order."""
        return [finding for finding in self.findings if finding.severity == "error"]

    @property
    def ok(self) -> bool:
        """True when the file can be uploaded for fine-tuning as it is."""
        return not self.format_errors

    @property
    def charged_tokens(self) -> int:
        return self.epochs * self.billing_tokens


def validate_file(
    path: Path,
    *,
    model: str = DEFAULT_MODEL,
    validation_file: Path | None = None,
    progress: ByteProgress | None = None,
    cancelled: threading.Event | None = None,
    max_warnings: int = MAX_WARNINGS,
) -> ValidationReport:
    """Validate a training file (and optionally its validation file) for ``model``.

    ``progress`` hears how many bytes were read; setting ``cancelled`` stops the work with
    core.work.Cancelled.
    """
    check_jsonl(path)
    tally = scan_file(path, encoding_for_model(model), progress, cancelled, max_warnings)
    if validation_file is None:
        return _report(tally, model)
    with validation_file.open("rb") as handle:
        return _report(tally, model, validation=handle)


def check_jsonl(path: Path) -> None:
    """Refuse, in one line, a file that cannot be fine-tuning JSONL: a CSV (imported first),
    binary data, text that is not UTF-8."""
    if path.suffix.lower() == ".csv":
        raise NotText(
            f"{path.name} is a CSV file; fine-tuning takes JSONL.",
            hint=f"Import it first (`voxdesk dataset import NAME {path.name}`), then export "
            "the dataset as JSONL (`voxdesk dataset export NAME FILE.jsonl`) and validate that.",
        )
    with path.open("rb") as handle:
        check_text(path.name, handle.read(TEXT_HEAD))


async def validate_file_async(
    path: Path,
    *,
    model: str = DEFAULT_MODEL,
    validation_file: Path | None = None,
    progress: Fraction | None = None,
) -> ValidationReport:
    """validate_file in a worker thread; cancelling the awaiting task stops the work too.

    ``progress`` is called on the event loop with the share of the file read.
    """
    return await run_blocking(
        lambda cancelled, report: validate_file(
            path, model=model, validation_file=validation_file, cancelled=cancelled,
            progress=lambda done, total: report(done / max(total, 1)),
        ),
        progress,
    )  # fmt: skip


def with_example_ids(
    report: ValidationReport, ids: Sequence[int], validation_ids: Sequence[int] = ()
) -> ValidationReport:
    """The report of a file exported from a dataset, its findings naming the example on each
    line (``ids``, in line order; ``validation_ids`` for the validation file's lines): what a
    user can find and fix."""
    return replace(report, findings=[_with_ids(f, ids, validation_ids) for f in report.findings])


def _with_ids(finding: Finding, ids: Sequence[int], validation_ids: Sequence[int]) -> Finding:
    if not 0 < finding.line <= len(ids):
        return finding
    found = replace(finding, example=ids[finding.line - 1])
    others = validation_ids if finding.code == "train_validation_overlap" else ids
    if not 0 < finding.other_line <= len(others):
        return found
    other = others[finding.other_line - 1]
    return replace(found, other_example=other, message=_paired(finding.code, f"example {other}"))


# Findings about two lines say where the other is: a line, or the example on it.
_PAIRED = {"duplicate": "same as", "near_duplicate": "same words as",
           "train_validation_overlap": "also in the validation file:"}  # fmt: skip


def _paired(code: str, other: str) -> str:
    return f"{_PAIRED[code]} {other}"


def validate_lines(
    lines: Iterable[bytes | str], *, model: str = DEFAULT_MODEL, max_warnings: int = MAX_WARNINGS
) -> ValidationReport:
    """Validate JSONL lines, in this process."""
    return _report(scan_stream(lines, encoding_for_model(model), max_warnings), model)


def _report(
    tally: Tally, model: str, validation: Iterable[bytes] | None = None
) -> ValidationReport:
    report = ValidationReport(
        examples=tally.examples,
        chat_examples=tally.chat_examples,
        preference_examples=tally.preference_examples,
        counts=tally.counts,
        findings=tally.warnings,
        encoding=encoding_for_model(model),
    )
    _report_duplicates(report, tally.keys, tally.max_warnings)
    if validation is not None:
        _report_overlap(report, validation, tally.keys)
    _report_sizes(report, tally.sizes, tally.max_warnings)
    _report_file_problems(report)
    # Errors first, then warnings, each in line order like the file (the whole file, line 0,
    # first). Only warnings are capped: every error is a line to fix before uploading.
    warnings = capped(sorted((f for f in report.findings if f.severity == "warning"),
                             key=lambda finding: finding.line), tally.max_warnings)  # fmt: skip
    errors = tally.errors + [f for f in report.findings if f.severity == "error"]
    report.findings = sorted(errors, key=lambda finding: finding.line) + warnings
    report.cost = estimate_cost(model, report.charged_tokens)
    return report


def _report_duplicates(report: ValidationReport, keys: np.ndarray, cap: int) -> None:
    """An example is a duplicate of the first with the same bytes, else with the same words."""
    lines = keys[:, LINE]
    rows = np.arange(len(keys))
    first_exact, first_near = _first_rows(keys[:, EXACT_KEY]), _first_rows(keys[:, NEAR_KEY])
    exact = np.flatnonzero(first_exact != rows)
    near = np.flatnonzero((first_exact == rows) & (first_near != rows))
    found = (("duplicate", exact, first_exact), ("near_duplicate", near, first_near))
    for code, hits, first in found:
        if len(hits):
            report.counts[code] += len(hits)
        pairs = zip(lines[hits[:cap]].tolist(), lines[first[hits[:cap]]].tolist(), strict=True)
        report.findings += [Finding(line, code, _paired(code, f"line {other}"), other_line=other)
                            for line, other in pairs]  # fmt: skip


def _first_rows(values: np.ndarray) -> np.ndarray:
    """For each row, the first row holding the same value."""
    _, first, inverse = np.unique(values, return_index=True, return_inverse=True)
    return np.asarray(first[inverse])


def _report_sizes(report: ValidationReport, sizes: np.ndarray, cap: int) -> None:
    totals = sizes[:, TOTAL_TOKENS]
    report.messages_per_example = Distribution.of(sizes[:, MESSAGES])
    report.total_tokens_per_example = Distribution.of(totals)
    report.assistant_tokens_per_example = Distribution.of(sizes[:, ASSISTANT_TOKENS])
    report.too_long = int(np.count_nonzero(totals > MAX_TOKENS_PER_EXAMPLE))
    report.total_tokens = int(totals.sum())
    if report.too_long:
        report.counts["over_token_limit"] = report.too_long
        long = sizes[totals > MAX_TOKENS_PER_EXAMPLE][:cap]
        report.findings += [
            Finding(int(line), "over_token_limit", f"{tokens:,} tokens; the limit is "
                    f"{MAX_TOKENS_PER_EXAMPLE:,} and the rest is cut off in training")
            for line, tokens in zip(long[:, SIZE_LINE].tolist(), long[:, TOTAL_TOKENS].tolist(),
                                    strict=True)
        ]  # fmt: skip
    report.epochs = default_epochs(report.examples)
    report.billing_tokens = int(np.minimum(totals, MAX_TOKENS_PER_EXAMPLE).sum())


def _report_file_problems(report: ValidationReport) -> None:
    if report.chat_examples and report.preference_examples:
        report.counts["mixed_formats"] += 1
        report.findings.append(Finding(0, "mixed_formats", describe("mixed_formats")))
    if report.examples < MIN_EXAMPLES:
        report.counts["too_few_examples"] += 1
        message = f"{report.examples} examples; the API needs at least {MIN_EXAMPLES}"
        report.findings.append(Finding(0, "too_few_examples", message))


def default_epochs(examples: int) -> int:
    """The number of epochs OpenAI picks by default, as the cookbook computes it."""
    if examples == 0:
        return 0
    if examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // examples)
    if examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // examples)
    return TARGET_EPOCHS


def _report_overlap(report: ValidationReport, lines: Iterable[bytes], keys: np.ndarray) -> None:
    _, first = np.unique(keys[:, NEAR_KEY], return_index=True)
    train = dict(zip(keys[first, NEAR_KEY].tolist(), keys[first, LINE].tolist(), strict=True))
    for number, raw in enumerate(lines, start=1):
        try:
            example = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        line = train.get(near_key(all_text(example)))
        if line is not None:
            report.counts["train_validation_overlap"] += 1
            code = "train_validation_overlap"
            message = _paired(code, f"line {number}")
            report.findings.append(Finding(line, code, message, other_line=number))
