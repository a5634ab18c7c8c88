"""What the validator reports about one line: a finding, its severity and its description."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]

ERRORS = frozenset(
    {"invalid_json", "data_type", "missing_messages_list", "message_missing_key",
     "message_unrecognized_key", "unrecognized_role", "missing_content",
     "example_missing_assistant_message", "invalid_tool_calls", "tool_message_without_call",
     "tool_call_arguments_not_json", "invalid_tools", "preference_missing_input",
     "preference_input_not_ending_with_user", "invalid_preferred_output",
     "invalid_non_preferred_output", "too_few_examples", "mixed_formats"}
)  # fmt: skip
FILE_ERRORS = frozenset({"too_few_examples", "mixed_formats"})  # about a file, not one example
SHOWN_PLACES = 5  # examples or lines named in one line of text; the report has them all


@dataclass(frozen=True)
class Finding:
    line: int  # 1-based line of the JSONL file; 0 for findings about the whole file
    code: str
    message: str
    example: int | None = None  # the dataset example on that line, for a file exported from one
    # A finding about two lines (a duplicate, an overlap): the other one, in this file or the
    # validation file, and the dataset example on it.
    other_line: int = 0
    other_example: int | None = None

    @property
    def severity(self) -> Severity:
        return "error" if self.code in ERRORS else "warning"

    @property
    def where(self) -> str:
        """What a user looks for: the example when it came from a dataset, else the line."""
        if self.example is not None:
            return f"example {self.example}"
        return f"line {self.line}" if self.line else "file"


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
    "byte_order_mark": "the file starts with a UTF-8 byte-order mark, which some readers reject",
    "over_token_limit": "longer than the model's context; the rest is cut off in training",
    "secret_openai_key": "contains what looks like an OpenAI API key",
    "secret_discord_token": "contains what looks like a Discord token",
    "secret_aws_key": "contains what looks like an AWS access key",
    "secret_github_token": "contains what looks like a GitHub token",
    "secret_slack_token": "contains what looks like a Slack token",
    "secret_private_key": "contains a private key",
    "personal_email": "contains an email address",
    "personal_phone_number": "contains a phone number",
}


def describe(code: str) -> str:
    return _DESCRIPTIONS.get(code, code.replace("_", " "))


def describe_all(codes: Sequence[str]) -> str:
    return "; ".join(describe(code) for code in codes)


def fix_note(codes: Sequence[str]) -> str:
    """The note of an imported example kept to fix: what is wrong, or nothing once fixed."""
    return f"To fix: {describe_all(codes)}." if codes else ""


def name_places(findings: Iterable[Finding], shown: int = SHOWN_PLACES) -> str:
    """Errors in one line, each place (an example, a line) with what is wrong there, a finding
    about the whole file in its own words: ``3 examples; the API needs at least 10; example 13
    (no assistant message to learn from) and 2 more``. Every front end says it this way."""
    places: dict[str, list[str]] = {}
    for finding in findings:
        places.setdefault(finding.where, []).append(finding.message)
    named = [", ".join(dict.fromkeys(messages)) if where == "file" else
             f"{where} ({', '.join(dict.fromkeys(messages))})"
             for where, messages in list(places.items())[:shown]]  # fmt: skip
    more = len(places) - shown
    return "; ".join(named) + (f" and {more} more" if more > 0 else "")


def name_examples(problems: Mapping[int, Sequence[str]], shown: int = SHOWN_PLACES) -> str:
    """Examples and what is wrong with each (finding codes), as name_places says it."""
    found = (Finding(0, code, describe(code), example=example_id)
             for example_id, codes in problems.items() for code in codes)  # fmt: skip
    return name_places(found, shown)


def capped(findings: Sequence[Finding], cap: int) -> list[Finding]:
    """The first ``cap`` findings and, after them, the first of each code not among them: a
    shortened list still shows every kind of problem it counts."""
    kept = list(findings[:cap])
    codes = {finding.code for finding in kept}
    for finding in findings[cap:]:
        if finding.code not in codes:
            codes.add(finding.code)
            kept.append(finding)
    return kept
