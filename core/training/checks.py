"""Per-example checks: the cookbook's format rules, tool calls, preference pairs, secrets/PII.

Each check returns finding codes for one example. The cookbook's category names are kept
("data_type", "missing_messages_list", ...); the chat format has grown since the cookbook was
written, so tool calls (role "tool", "tool_calls", "tool_call_id") and "refusal" are accepted and
checked for structure instead of being counted as unknown roles and keys.
"""

from __future__ import annotations

import bisect
import itertools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from voxdesk.core.training.findings import ERRORS, FILE_ERRORS

CHAT_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
MESSAGE_KEYS = frozenset(
    {"role", "content", "name", "function_call", "weight", "tool_calls", "tool_call_id", "refusal"}
)

# (code, anchor, pattern). The anchors run over the raw lines of a whole chunk at once; only the
# examples they hit have their text searched with the full pattern. An anchor is ASCII, which
# JSON writers leave unescaped, so it is in the raw line whenever the pattern is in the text.
_SECRETS: tuple[tuple[str, re.Pattern[bytes], re.Pattern[str]], ...] = tuple(
    (code, re.compile(anchor), re.compile(pattern))
    for code, anchor, pattern in (
        ("secret_openai_key", rb"sk-", r"\bsk-(?:proj-|svcacct-)?[A-Za-z0-9_-]{20,}"),
        (
            "secret_discord_token",
            rb"\.[\w-]{6}\.",
            r"\b[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,}",
        ),
        ("secret_aws_key", rb"AKIA", r"\bAKIA[0-9A-Z]{16}\b"),
        ("secret_github_token", rb"gh[pousr]_", r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
        ("secret_slack_token", rb"xox", r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
        ("secret_private_key", rb"PRIVATE KEY", r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
        ("personal_email", rb"@", r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b"),
    )
)
# A phone number has ten ASCII digits or more: only lines with as many are searched for one.
_PHONE = re.compile(r"(?<![\w+])\+?\d(?:[\s().-]?\d){9,14}(?!\w)", re.ASCII)
_PHONE_MIN_DIGITS = 10
_NOT_DIGITS = bytes(byte for byte in range(256) if not ord("0") <= byte <= ord("9"))
# The secrets of _SECRETS (not personal data, which is a person's own business to keep), searched
# for in one example's text; one search for any of their anchors first: most examples hold none.
_EXAMPLE_SECRETS = [(code, pattern) for code, _, pattern in _SECRETS if code.startswith("secret_")]
_SECRET_ANCHORS = re.compile(
    "|".join(anchor.pattern.decode() for code, anchor, _ in _SECRETS if code.startswith("secret_"))
)
_PLAIN_ROLES = frozenset({"system", "user", "assistant"})
_PLAIN_KEYS = frozenset({"role", "content", "weight"})
_EXAMPLE_ERRORS = ERRORS - FILE_ERRORS


def example_problems(record: Any) -> list[str]:
    """Why one example must not go to a fine-tune as it is: the format errors that make the API
    refuse a file, and secrets that would be trained into a model. Empty when it may go."""
    text = _plain_text(record)
    codes: list[str] = []
    if text is None:  # not a plain conversation: every check
        if isinstance(record, dict) and "preferred_output" in record:
            codes = preference_problems(record)
        else:
            codes = chat_format_errors(record)
            if isinstance(record, dict) and isinstance(record.get("messages"), list):
                codes += assistant_turn_problems(record["messages"]) + tools_problems(record)
        text = all_text(record)
    if _SECRET_ANCHORS.search(text):
        codes += [code for code, pattern in _EXAMPLE_SECRETS if pattern.search(text)]
    return [code for code in dict.fromkeys(codes) if code in _EXAMPLE_ERRORS
            or code.startswith("secret_")]  # fmt: skip


def _plain_text(record: Any) -> str | None:
    """All the text of a plain conversation (text turns of system, user and assistant, one of
    them the assistant's), which passes every format check; None for any other record."""
    messages = record.get("messages") if type(record) is dict and len(record) == 1 else None
    if type(messages) is not list:
        return None
    contents, answered = [], False
    for message in messages:
        if type(message) is not dict or not message.keys() <= _PLAIN_KEYS:
            return None
        role, content = message.get("role"), message.get("content")
        if type(role) is not str or role not in _PLAIN_ROLES or type(content) is not str \
                or not content.strip():  # fmt: skip
            return None
        answered = answered or role == "assistant"
        contents.append(content)
    return "\n".join(contents) if answered else None


def chat_format_errors(example: Any) -> list[str]:
    """The cookbook's format errors for one example, one code per fault (messages may repeat)."""
    if not isinstance(example, dict):
        return ["data_type"]
    messages = example.get("messages")
    if not messages or not isinstance(messages, list):
        return ["missing_messages_list"]
    errors: list[str] = []
    for message in messages:
        if not isinstance(message, dict):
            errors.append("data_type")
            continue
        errors.extend(_message_errors(message))
    if not any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages):
        errors.append("example_missing_assistant_message")
    return errors


def _message_errors(message: dict[str, Any]) -> list[str]:
    role, content = message.get("role"), message.get("content")
    # The common case, decided in one expression: a known role, text content, known keys.
    if type(role) is str and role in CHAT_ROLES and type(content) is str and content \
            and message.keys() <= MESSAGE_KEYS:  # fmt: skip
        return []
    errors = []
    calls_tools = bool(message.get("tool_calls") or message.get("function_call"))
    if "role" not in message or ("content" not in message and not calls_tools):
        errors.append("message_missing_key")
    if any(key not in MESSAGE_KEYS for key in message):
        errors.append("message_unrecognized_key")
    if not isinstance(role, str) or role not in CHAT_ROLES:
        errors.append("unrecognized_role")
    if not calls_tools and (not content or not isinstance(content, str | list)):
        errors.append("missing_content")
    return errors


def content_text(content: Any) -> str:
    """A message's text, whether content is a string or a list of typed parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def assistant_turn_problems(messages: list[Any]) -> list[str]:
    """Assistant turns that say nothing, and malformed tool calls and tool answers."""
    problems: list[str] = []
    open_calls: set[str] = set()
    for message in messages:
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role == "assistant":
            calls = message.get("tool_calls")
            if calls is not None:
                problems.extend(_tool_call_problems(calls, open_calls))
            elif (
                not message.get("function_call")
                and not content_text(message.get("content")).strip()
            ):
                problems.append("empty_assistant_message")
        elif role == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str) or call_id not in open_calls:
                problems.append("tool_message_without_call")
            else:
                open_calls.discard(call_id)
    return problems


def _tool_call_problems(calls: Any, open_calls: set[str]) -> list[str]:
    if not isinstance(calls, list) or not calls:
        return ["invalid_tool_calls"]
    problems = []
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(call, dict) or not isinstance(call.get("id"), str) \
                or call.get("type") != "function" or not isinstance(function, dict) \
                or not function.get("name"):  # fmt: skip
            problems.append("invalid_tool_calls")
            continue
        open_calls.add(call["id"])
        try:
            json.loads(function.get("arguments", ""))
        except (TypeError, ValueError):
            problems.append("tool_call_arguments_not_json")
    return problems


def tools_problems(example: dict[str, Any]) -> list[str]:
    tools = example.get("tools")
    if tools is None:
        return []
    if not isinstance(tools, list):
        return ["invalid_tools"]
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not function.get("name"):
            return ["invalid_tools"]
    return []


def preference_problems(example: dict[str, Any]) -> list[str]:
    """DPO pairs: an input conversation, and one preferred and one non-preferred reply."""
    problems: list[str] = []
    source = example.get("input")
    if not isinstance(source, dict) or not isinstance(source.get("messages"), list) \
            or not source["messages"]:  # fmt: skip
        problems.append("preference_missing_input")
    elif source["messages"][-1].get("role") not in ("user", "tool") \
            if isinstance(source["messages"][-1], dict) else True:  # fmt: skip
        problems.append("preference_input_not_ending_with_user")
    outputs = []
    for key in ("preferred_output", "non_preferred_output"):
        output = example.get(key)
        if not isinstance(output, list) or len(output) != 1 or not isinstance(output[0], dict) \
                or output[0].get("role") != "assistant":  # fmt: skip
            problems.append(f"invalid_{key}")
            continue
        outputs.append(content_text(output[0].get("content")))
    if len(outputs) == 2 and outputs[0].strip() == outputs[1].strip():
        problems.append("preference_outputs_identical")
    return problems


def sensitive_content(lines: Sequence[bytes], texts: Mapping[int, str]) -> list[tuple[int, str]]:
    """(index into ``lines``, code) for every example whose text holds a secret or personal data.

    ``texts`` maps the index of each line that held an example to all the text of that example.
    """
    joined = b"\n".join(lines)
    starts = list(itertools.accumulate((len(line) + 1 for line in lines), initial=0))
    found: list[tuple[int, str]] = []
    for code, anchor, pattern in _SECRETS:
        hits = {bisect.bisect_right(starts, hit.start()) - 1 for hit in anchor.finditer(joined)}
        found += [(index, code) for index in hits if pattern.search(texts.get(index, ""))]
    found += [
        (index, "personal_phone_number")
        for index, line in enumerate(lines)
        if len(line.translate(None, _NOT_DIGITS)) >= _PHONE_MIN_DIGITS
        and index in texts
        and _PHONE.search(texts[index])
    ]
    return sorted(found)


def all_text(example: Any) -> str:
    """Every text of an example: contents of all its messages and tool call arguments."""
    if not isinstance(example, dict):
        return ""
    parts: list[str] = []
    for message in all_messages(example):
        parts.append(content_text(message.get("content")))
        calls = message.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            if isinstance(call, dict) and isinstance(call.get("function"), dict):
                parts.append(str(call["function"].get("arguments", "")))
    return "\n".join(parts)


def all_messages(example: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The messages of a chat example, or of a preference pair's input and both replies."""
    source = example.get("input")
    groups = [example.get("messages"), source.get("messages") if isinstance(source, dict) else None,
              example.get("preferred_output"), example.get("non_preferred_output")]  # fmt: skip
    for group in groups:
        if isinstance(group, list):
            yield from (message for message in group if isinstance(message, dict))
