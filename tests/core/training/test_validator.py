"""The validator: the cookbook's counts on the same file, and every check beyond it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from bench import cookbook_baseline
from bench.dataset_file import write_dataset
from voxdesk.core.training import scan, stretches
from voxdesk.core.training.checks import example_problems
from voxdesk.core.training.tokens import REPLY_PRIMING_TOKENS, TOKENS_PER_MESSAGE, count_texts
from voxdesk.core.training.validator import (
    ValidationReport,
    default_epochs,
    validate_file,
    validate_lines,
)

CL100K_MODEL = "gpt-3.5-turbo-0125"  # the cookbook's encoding, so token totals compare exactly


def chat(user: str = "Hi there", reply: str = "Hello!", system: str | None = "Be kind") -> dict:
    messages = [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]
    if system:
        messages.insert(0, {"role": "system", "content": system})
    return {"messages": messages}


def report_of(*records: Any, model: str = CL100K_MODEL) -> ValidationReport:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    return validate_lines(lines, model=model)


def codes_at(report: ValidationReport, line: int) -> set[str]:
    return {finding.code for finding in report.findings if finding.line == line}


def test_same_counts_as_the_cookbook_on_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    planted = write_dataset(path, 3_000)
    ours = validate_file(path, model=CL100K_MODEL)
    cookbook = cookbook_baseline.analyse(path)
    assert ours.format_errors == cookbook["format_errors"]
    assert ours.counts["missing_system_message"] == cookbook["missing_system_message"]
    assert ours.counts["missing_user_message"] == cookbook["missing_user_message"]
    assert ours.too_long == cookbook["over_token_limit"] == planted["over_token_limit"]
    assert ours.total_tokens == cookbook["total_tokens"]
    distributions = [ours.messages_per_example, ours.total_tokens_per_example,
                     ours.assistant_tokens_per_example]  # fmt: skip
    flat = [value for d in distributions if d for value in (d.minimum, d.maximum, d.mean, d.median)]
    assert flat == pytest.approx([value for row in cookbook["distributions"] for value in row])
    for code in ("unrecognized_role", "message_missing_key", "invalid_json"):
        assert ours.format_errors[code] == planted[code]


# Shapes the cookbook was written for. Left out on purpose: tool and function calls, and content
# as a list of parts, which it predates and flags (a function call with no text is
# "missing_content" there); and "<|endoftext|>", on which its encode() raises.
cookbook_values = st.one_of(st.sampled_from(["", " ", "Hi", "Привет, мир", "a\nb"]),
                            st.none(), st.integers(0, 2), st.just({"text": "x"}))  # fmt: skip
cookbook_messages = st.dictionaries(
    st.sampled_from(["role", "content", "name", "weight", "x"]), cookbook_values, max_size=4
) | st.builds(lambda role, rest: {**rest, "role": role},
              st.sampled_from(["system", "user", "assistant", "function", "bot"]),
              st.dictionaries(st.sampled_from(["content", "name", "weight", "x"]), cookbook_values,
                              max_size=3))  # fmt: skip
cookbook_examples = st.lists(cookbook_messages, min_size=1, max_size=5).map(
    lambda messages: {"messages": messages}
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(cookbook_examples, min_size=1, max_size=6))
def test_counts_equal_the_cookbook_on_generated_conversations(
    tmp_path_factory: pytest.TempPathFactory, batch: list[dict[str, Any]]
) -> None:
    path = tmp_path_factory.mktemp("cookbook") / "train.jsonl"
    path.write_text("".join(json.dumps(example, ensure_ascii=False) + "\n" for example in batch))
    ours, cookbook = validate_file(path, model=CL100K_MODEL), cookbook_baseline.analyse(path)
    # The whole-file checks ("too_few_examples") are ours alone.
    assert {code: n for code, n in ours.format_errors.items()
            if code != "too_few_examples"} == cookbook["format_errors"]  # fmt: skip
    assert ours.counts["missing_system_message"] == cookbook["missing_system_message"]
    assert ours.counts["missing_user_message"] == cookbook["missing_user_message"]
    assert ours.total_tokens == cookbook["total_tokens"]
    assert ours.too_long == cookbook["over_token_limit"]


def test_distributions_epochs_and_billing() -> None:
    report = report_of(*[chat(user=f"Question {i}?") for i in range(20)])
    assert report.messages_per_example is not None
    assert report.messages_per_example.minimum == report.messages_per_example.maximum == 3
    assert report.epochs == default_epochs(20) == 5  # 100 // 20
    tokens = report.total_tokens_per_example
    assert tokens is not None and tokens.minimum > 10
    assert report.billing_tokens == round(tokens.mean * 20)
    assert report.charged_tokens == 5 * report.billing_tokens
    assert report.ok


@pytest.mark.parametrize(("examples", "epochs"), [(1, 25), (10, 10), (40, 3), (8_000, 3),
                                                  (9_000, 2), (100_000, 1)])  # fmt: skip
def test_default_epochs_rule(examples: int, epochs: int) -> None:
    assert default_epochs(examples) == epochs


def test_cost_uses_the_dated_price_table() -> None:
    report = report_of(*[chat() for _ in range(10)], model="gpt-4o-mini")
    assert report.cost is not None
    assert report.cost.price_model == "gpt-4o-mini-2024-07-18"
    assert report.cost.prices_as_of == "2025-06-01"
    assert report.cost.dollars == round(3.00 * report.charged_tokens / 1e6, 2)
    assert report_of(chat(), model="my-own-model").cost is None


def test_findings_carry_line_numbers() -> None:
    report = report_of(chat(), "{oops", chat(system=None), {"messages": []}, "", chat())
    assert codes_at(report, 2) == {"invalid_json"}
    assert codes_at(report, 3) == {"missing_system_message"}
    assert codes_at(report, 4) == {"missing_messages_list"}
    assert codes_at(report, 6) == {"duplicate"}  # line 5 is blank and skipped
    assert not report.ok


def test_near_duplicates_ignore_case_and_punctuation() -> None:
    report = report_of(chat(user="Hello, world!"), chat(user="hello world"))
    assert codes_at(report, 2) == {"near_duplicate"}


def test_empty_assistant_turns() -> None:
    report = report_of(chat(reply="   \n"))
    assert "empty_assistant_message" in codes_at(report, 1)


def test_tool_calls_are_checked_not_rejected() -> None:
    good = {"messages": [
        {"role": "user", "content": "Weather in Moscow?"},
        {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
         "function": {"name": "weather", "arguments": "{\"city\": \"Moscow\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "-3C"},
        {"role": "assistant", "content": "It is -3C."},
    ], "tools": [{"type": "function", "function": {"name": "weather"}}]}  # fmt: skip
    bad = json.loads(json.dumps(good))
    bad["messages"][1]["tool_calls"][0]["function"]["arguments"] = "{city: Moscow"
    bad["messages"][2]["tool_call_id"] = "call_9"
    report = report_of(good, bad)
    assert codes_at(report, 1) == {"missing_system_message"}
    assert {"tool_call_arguments_not_json", "tool_message_without_call"} <= codes_at(report, 2)


def test_preference_pairs() -> None:
    pair = {"input": {"messages": [{"role": "user", "content": "Say hi"}]},
            "preferred_output": [{"role": "assistant", "content": "Hi!"}],
            "non_preferred_output": [{"role": "assistant", "content": "Go away."}]}  # fmt: skip
    same = {**pair, "non_preferred_output": pair["preferred_output"]}
    broken = {"input": {"messages": []}, "preferred_output": [], "non_preferred_output": "no"}
    report = report_of(pair, same, broken)
    assert report.preference_examples == 3
    assert codes_at(report, 1) == set()
    assert codes_at(report, 2) == {"preference_outputs_identical"}
    assert codes_at(report, 3) == {"preference_missing_input", "invalid_preferred_output",
                                   "invalid_non_preferred_output"}  # fmt: skip


def test_secrets_and_personal_data() -> None:
    report = report_of(
        chat(user="my key is sk-proj-abcdefghijklmnopqrstuvwx1234"),
        chat(user="mail me at anna.petrova@example.ru or call +7 912 345-67-89"),
        chat(user="token MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GaBcDe.abcdefghijklmnopqrstuvwxyz12345"),
        chat(user="Nothing sensitive, just 2024 and 42."),
        chat(reply="Ring 8-9-1-2-3-4-5-6-7-8-9, then mail ПЁТР@пример.рф"),
    )
    assert "secret_openai_key" in codes_at(report, 1)
    assert {"personal_email", "personal_phone_number"} <= codes_at(report, 2)
    assert "secret_discord_token" in codes_at(report, 3)
    assert codes_at(report, 4) == set()
    assert {"personal_phone_number", "personal_email"} <= codes_at(report, 5)


def test_too_few_examples_and_mixed_formats() -> None:
    pair = {"input": {"messages": [{"role": "user", "content": "x"}]},
            "preferred_output": [{"role": "assistant", "content": "a"}],
            "non_preferred_output": [{"role": "assistant", "content": "b"}]}  # fmt: skip
    report = report_of(chat(), pair)
    assert {"too_few_examples", "mixed_formats"} <= set(report.format_errors)


def test_overlap_between_training_and_validation(tmp_path: Path) -> None:
    train, valid = tmp_path / "train.jsonl", tmp_path / "valid.jsonl"
    train.write_text("".join(json.dumps(chat(user=f"Q{i}")) + "\n" for i in range(12)))
    valid.write_text(json.dumps(chat(user="q3")) + "\n" + json.dumps(chat(user="new")) + "\n")
    report = validate_file(train, validation_file=valid)
    overlap = [f for f in report.findings if f.code == "train_validation_overlap"]
    assert [(f.line, f.message) for f in overlap] == [(4, "also in the validation file: line 1")]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
messages = st.lists(st.dictionaries(st.sampled_from(["role", "content", "name", "weight",
                                                      "tool_calls", "x"]), json_values,
                                    max_size=4), max_size=4)  # fmt: skip
records = st.one_of(json_values, st.builds(lambda m: {"messages": m}, messages))
lines = st.one_of(records.map(json.dumps), st.binary(max_size=40), st.text(max_size=40))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lines, min_size=1, max_size=12))
def test_fuzzed_lines_never_crash_and_bad_ones_are_reported(batch: list[Any]) -> None:
    report = validate_lines(batch)
    # blank as JSON has it: spaces, tabs and line ends only
    raw = [line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line
           for line in batch]  # fmt: skip
    raw[0] = raw[0].removeprefix(scan.UTF8_BOM)  # a byte-order mark opening the file: no content
    lines_with_content = [i for i, line in enumerate(raw, 1) if line.strip(b" \t\r\n")]
    assert report.examples == len(lines_with_content)
    for number in lines_with_content:
        line = batch[number - 1]
        try:
            json.loads(line)
        except ValueError:
            assert "invalid_json" in codes_at(report, number)


plain_messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["system", "user", "assistant", "tool", "bot"]),
         "content": st.sampled_from(["", "  ", "Hi!", "Привет, мир", "<|endoftext|>", "a\nb"])},
        optional={"weight": st.sampled_from([0, 1, "1", None]), "name": st.just("ann")},
    ),
    max_size=5,
)  # fmt: skip


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(plain_messages.map(lambda m: json.dumps({"messages": m})), min_size=1, max_size=8))
def test_the_plain_example_shortcut_reports_what_the_full_checks_do(batch: list[str]) -> None:
    shortcut = validate_lines(batch)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scan._Chunk, "queue_plain", lambda self, example, line: None)
        full = validate_lines(batch)
    assert shortcut.counts == full.counts
    assert shortcut.findings == full.findings
    assert (shortcut.total_tokens, shortcut.billing_tokens) == (full.total_tokens,
                                                                full.billing_tokens)  # fmt: skip
    assert shortcut.assistant_tokens_per_example == full.assistant_tokens_per_example


def test_errors_come_first_and_are_never_crowded_out_by_warnings() -> None:
    # Every line but the broken ones warns (no system message); six broken lines at the end.
    lines = [json.dumps(chat(user=f"Q{i}", system=None)) for i in range(200)]
    broken = [40, 90, 150, 198, 199, 200]
    for number in broken:
        lines[number - 1] = '{"messages": ['
    report = validate_lines(lines, model=CL100K_MODEL, max_warnings=50)
    errors = [f for f in report.findings if f.severity == "error"]
    assert [f.line for f in errors] == broken
    assert report.findings[: len(errors)] == errors  # errors first
    warnings = report.findings[len(errors) :]
    assert len(warnings) == 50 and [f.line for f in warnings] == sorted(f.line for f in warnings)
    assert report.counts["missing_system_message"] == 194  # the counts stay exact


def test_every_error_survives_the_merge_of_stretches(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    lines = [json.dumps(chat(user=f"Q{i}", system=None)) for i in range(3_000)]
    for number in (10, 2_990):
        lines[number - 1] = "{broken"
    path.write_text("\n".join(lines) + "\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stretches, "PARALLEL_MIN_BYTES", 0)
        patch.setattr(stretches, "STRETCH_BYTES", 50_000)
        patch.setattr(stretches.os, "cpu_count", lambda: 2)
        report = validate_file(path, model=CL100K_MODEL, max_warnings=20)
    assert [(f.line, f.code) for f in report.findings[:2]] == [(10, "invalid_json"),
                                                               (2_990, "invalid_json")]  # fmt: skip
    assert len(report.findings) == 22


def test_examples_over_the_token_limit_carry_their_line() -> None:
    long_reply = "word " * 17_000
    report = report_of(chat(), chat(reply=long_reply), chat(user="Other"))
    (finding,) = [f for f in report.findings if f.code == "over_token_limit"]
    assert finding.line == 2 and finding.severity == "warning"
    assert "tokens; the limit is 16,385" in finding.message
    assert report.too_long == report.counts["over_token_limit"] == 1


def test_a_byte_order_mark_is_tolerated_at_the_start_of_the_file_only() -> None:
    first, third = json.dumps(chat(user="First")), json.dumps(chat(user="Third"))
    report = validate_lines(["\ufeff" + first, json.dumps(chat()), "\ufeff" + third])
    assert codes_at(report, 1) == {"byte_order_mark"}
    assert codes_at(report, 3) == {"invalid_json"}
    assert report.examples == 3


def test_preference_pairs_are_counted_for_tokens_and_cost() -> None:
    pair = {"input": {"messages": [{"role": "user", "content": "Say hi to the team"}]},
            "preferred_output": [{"role": "assistant", "content": "Hi, team!"}],
            "non_preferred_output": [{"role": "assistant", "content": "No."}]}  # fmt: skip
    report = report_of(*[pair] * 10, model="gpt-4o-mini")
    contents = count_texts(["Say hi to the team", "Hi, team!", "No."], "o200k_base")
    roles = count_texts(["user", "assistant", "assistant"], "o200k_base")
    per_pair = REPLY_PRIMING_TOKENS + sum(contents) + sum(roles) + 3 * TOKENS_PER_MESSAGE
    assert report.total_tokens == report.billing_tokens == 10 * per_pair
    assert report.assistant_tokens_per_example is not None
    assert report.assistant_tokens_per_example.maximum == contents[1] + contents[2]
    assert report.cost is not None and report.cost.trained_tokens == report.charged_tokens > 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records)
@example({"messages": [{"role": "user", "content": "k"},
                       {"role": "assistant", "content": "sk-proj-" + "a1" * 12}]})  # fmt: skip
@example({"messages": [{"role": "user", "content": "no answer"}]})
@example({"messages": [{"role": "user", "content": " "}, {"role": "assistant", "content": "x"}]})
def test_the_import_refuses_what_the_validator_refuses(record: Any) -> None:
    """The import approves an example only when the validator finds it no error (but the
    file's) and no secret: one verdict, however the example is read."""
    line = json.dumps(record)
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        assume(False)  # a lone surrogate: the import rejects the line before any check
    report = validate_lines([line])
    refused = {f.code for f in report.findings if f.line == 1
               and (f.severity == "error" or f.code.startswith("secret_"))}  # fmt: skip
    assert set(example_problems(record)) == refused
