"""Scanning JSONL lines into the facts a validation report is made of.

A run of lines becomes a Tally: finding counts, every error and the first warnings, the sizes
of each example (messages, tokens, assistant tokens, line) and its duplicate keys. Tallies of
consecutive runs merge in file order, so parts of a file can be scanned in other processes
(stretches.py).

Most examples in real files are plain conversations, text turns of system, user and assistant:
those are recognised in one pass over their messages; anything else gets the full checks of
checks.py. Strings are tokenised once each, a chunk at a time, and the anchors of the secret and
personal-data patterns are searched over a whole chunk's raw lines at once.
"""

from __future__ import annotations

import codecs
import functools
import string
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
from xxhash import xxh3_64_intdigest

from voxdesk.core.errors import VoxdeskError
from voxdesk.core.training import checks
from voxdesk.core.training.findings import ERRORS, Finding, capped, describe
from voxdesk.core.training.tokens import (
    REPLY_PRIMING_TOKENS,
    TOKENS_PER_MESSAGE,
    TOKENS_PER_NAME,
    Encoding,
    count_texts,
)

CHUNK_LINES = 20_000
JSON_WHITESPACE = b" \t\r\n"  # bytes.strip() would also drop \v and \f, which JSON rejects
UTF8_BOM = b"\xef\xbb\xbf"  # tolerated at the start of a file only, as the importer does
TEXT_HEAD = 1 << 16  # bytes read to tell text from binary data
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)  # UTF-32's LE mark starts as UTF-16's
# Warnings kept one by one; their counts stay exact beyond this. Errors are all kept: each is a
# line to fix before the file can be uploaded.
MAX_WARNINGS = 10_000

# Columns of Tally.sizes and Tally.keys
MESSAGES, TOTAL_TOKENS, ASSISTANT_TOKENS, SIZE_LINE = range(4)
LINE, EXACT_KEY, NEAR_KEY = range(3)

_NO_CONVERSATION = ("data_type", "missing_messages_list")  # nothing further can be read
_PLAIN_ROLES = {"system": 1, "user": 2, "assistant": 4}
_PLAIN_KEYS = frozenset({"role", "content", "weight"})
_ROLE_CODES = (  # in the order the full checks report them: the error, then the warnings
    (4, "example_missing_assistant_message"),
    (1, "missing_system_message"),
    (2, "missing_user_message"),
)
_ROLE_WARNINGS = [[code for bit, code in _ROLE_CODES if not roles & bit] for roles in range(8)]
# Near duplicates: the same letters and digits once case, punctuation and spacing are set aside.
_IGNORED = (string.punctuation + string.whitespace).encode()
_ASCII_LOWER = bytes.maketrans(string.ascii_uppercase.encode(), string.ascii_lowercase.encode())


class NotText(VoxdeskError):
    """A file meant to hold JSONL (or CSV) lines is binary, or not UTF-8 from its first line."""


def check_text(name: str, head: bytes) -> None:
    """Refuse a file by its first block when it cannot be lines of text: reading it line by
    line would report every "line" of it, and none could ever be used."""
    head = head[:TEXT_HEAD]
    if head.startswith(_UTF16_BOMS):  # PowerShell 5's `>` and Out-File write UTF-16
        raise NotText(f"{name} is UTF-16 text; JSONL must be UTF-8.",
                      hint="Save it as UTF-8 (in PowerShell: `Out-File -Encoding utf8`) and "
                      "try again.")  # fmt: skip
    if b"\0" in head:  # JSON text never holds a raw NUL; binary data nearly always does
        raise NotText(f"{name} holds binary data, not lines of text.",
                      hint="Give a .jsonl file (or a .csv to import).")  # fmt: skip
    first, newline, _ = head.partition(b"\n")
    whole = bool(newline) or len(head) < TEXT_HEAD  # else line 1 may end in a cut character
    try:
        codecs.getincrementaldecoder("utf-8")().decode(first, final=whole)
    except UnicodeDecodeError:
        raise NotText(f"{name} is not UTF-8 text (line 1).",
                      hint="Save it as UTF-8 and try again.") from None  # fmt: skip


@dataclass
class Tally:
    """What a run of lines yields. Line numbers count from the first line of the run."""

    lines: int = 0
    examples: int = 0
    chat_examples: int = 0
    preference_examples: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    errors: list[Finding] = field(default_factory=list)
    # the first max_warnings, and the first of each code after them
    warnings: list[Finding] = field(default_factory=list)
    size_parts: list[np.ndarray] = field(default_factory=list)  # see sizes
    key_parts: list[np.ndarray] = field(default_factory=list)  # line, exact key, near key
    max_warnings: int = MAX_WARNINGS

    def add(self, line: int, code: str, message: str | None = None) -> None:
        self.counts[code] += 1
        if code in ERRORS:
            self.errors.append(Finding(line, code, message or describe(code)))
        elif len(self.warnings) < self.max_warnings or self.counts[code] == 1:
            self.warnings.append(Finding(line, code, message or describe(code)))

    def extend(self, later: Tally) -> None:
        """Append the tally of the run of lines that follows this one's (taking over its arrays)."""
        offset = self.lines
        known = set(self.counts)
        self.lines += later.lines
        self.examples += later.examples
        self.chat_examples += later.chat_examples
        self.preference_examples += later.preference_examples
        self.counts += later.counts
        self.errors += [Finding(f.line + offset, f.code, f.message) for f in later.errors]
        room = max(self.max_warnings - len(self.warnings), 0)
        moved = later.warnings[:room] + [f for f in capped(later.warnings[room:], 0)
                                         if f.code not in known]  # fmt: skip
        self.warnings += [Finding(f.line + offset, f.code, f.message) for f in moved]
        for sizes in later.size_parts:
            sizes[:, SIZE_LINE] += offset
            self.size_parts.append(sizes)
        for keys in later.key_parts:
            keys[:, LINE] += offset
            self.key_parts.append(keys)

    @property
    def sizes(self) -> np.ndarray:
        """One row per example with a conversation (a chat, or a preference pair's messages):
        messages, tokens, assistant tokens and its line."""
        self.size_parts = [_joined(self.size_parts, np.int64, 4)]
        return self.size_parts[0]

    @property
    def keys(self) -> np.ndarray:
        """One row per example with text: its line, exact key and near-duplicate key."""
        self.key_parts = [_joined(self.key_parts, np.uint64, 3)]
        return self.key_parts[0]


def _joined(parts: list[np.ndarray], dtype: type[np.generic], columns: int) -> np.ndarray:
    """The parts as one array (joined once: the parts are replaced by it)."""
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.zeros((0, columns), dtype)


def scan_stream(
    lines: Iterable[bytes | str], encoding: Encoding, max_warnings: int = MAX_WARNINGS
) -> Tally:
    """Scan lines in chunks, in this process."""
    tally = Tally(max_warnings=max_warnings)
    for chunk in chunks(lines):
        scan_chunk(chunk, tally, encoding)
    return tally


def chunks(lines: Iterable[bytes | str]) -> Iterator[list[bytes]]:
    """Lines in lists of CHUNK_LINES, as bytes."""
    chunk: list[bytes] = []
    for line in lines:
        chunk.append(line if isinstance(line, bytes) else line.encode("utf-8", "surrogatepass"))
        if len(chunk) == CHUNK_LINES:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def scan_chunk(lines: list[bytes], tally: Tally, encoding: Encoding) -> None:
    """Scan lines that follow the ones already in ``tally``."""
    chunk = _Chunk(encoding)
    first = tally.lines + 1
    for index, raw in enumerate(lines):
        number = first + index
        if number == 1 and raw.startswith(UTF8_BOM):
            tally.add(number, "byte_order_mark")
            raw = raw[len(UTF8_BOM) :]
        stripped = raw.strip(JSON_WHITESPACE)
        if not stripped:
            continue  # blank lines are skipped by the API too
        tally.examples += 1
        try:
            example = orjson.loads(stripped)
        except orjson.JSONDecodeError as error:
            tally.add(number, "invalid_json", f"not valid JSON: {error}")
            continue
        text = _scan_example(number, example, tally, chunk)
        if text is not None:
            chunk.add_text(index, number, stripped, text)
    tally.lines += len(lines)
    for index, code in checks.sensitive_content(lines, chunk.example_texts):
        tally.add(first + index, code)
    chunk.finish(tally)


def _scan_example(number: int, example: Any, tally: Tally, chunk: _Chunk) -> str | None:
    """Check one example; returns all its text, or None when it holds no conversation."""
    if type(example) is dict and "preferred_output" in example:
        tally.preference_examples += 1
        for code in checks.preference_problems(example):
            tally.add(number, code)
        # Training reads the input with both replies; every message counts once.
        chunk.queue(list(checks.all_messages(example)), number)
        return checks.all_text(example)
    tally.chat_examples += 1
    plain = chunk.queue_plain(example, number)
    if plain is not None:
        roles, text = plain
        for code in _ROLE_WARNINGS[roles]:
            tally.add(number, code)
        return text
    codes = _full_checks(example)
    for code in codes:
        tally.add(number, code)
    if codes and codes[0] in _NO_CONVERSATION:
        return None
    chunk.queue(example["messages"], number)
    return checks.all_text(example)


def _full_checks(example: Any) -> list[str]:
    errors = checks.chat_format_errors(example)
    if errors and errors[0] in _NO_CONVERSATION:
        return errors
    messages: list[Any] = example["messages"]
    roles = {m.get("role") for m in messages if isinstance(m, dict) and type(m.get("role")) is str}
    present = sum(bit for role, bit in _PLAIN_ROLES.items() if role in roles)
    # The missing assistant is an error chat_format_errors has reported: only the warnings here.
    warnings = _ROLE_WARNINGS[present | _PLAIN_ROLES["assistant"]]
    return [*errors, *warnings, *checks.assistant_turn_problems(messages),
            *checks.tools_problems(example)]  # fmt: skip


class _Chunk:
    """One chunk's examples on their way into a tally: strings to count, texts to search."""

    def __init__(self, encoding: Encoding) -> None:
        self.encoding = encoding
        self.role_tokens = _role_tokens(encoding)
        # what a plain message costs besides its content: the per-message tokens and its role
        self.message_tokens = {role: TOKENS_PER_MESSAGE + n for role, n in self.role_tokens.items()}
        self.texts: list[str] = []  # every string to tokenise
        self.starts: list[int] = []  # per counted example, where its strings begin in texts
        self.overheads: list[int] = []  # its fixed tokens: per message, names, known roles
        self.message_counts: list[int] = []
        self.size_lines: list[int] = []  # the line of each counted example
        self.assistant_at: list[int] = []  # where each assistant content is in texts
        self.assistant_of: list[int] = []  # and which counted example it belongs to
        self.keys: list[tuple[int, int, int]] = []
        self.example_texts: dict[int, str] = {}  # index of the line in the chunk -> its text

    def queue_plain(self, example: Any, line: int) -> tuple[int, str] | None:
        """Queue a plain conversation; returns the roles present (bits) and all its text.

        Returns None, queueing nothing, unless every message is a plain text turn: such an
        example passes every format check, and only the role warnings remain to decide.
        """
        if type(example) is not dict or len(example) != 1:
            return None
        messages = example.get("messages")
        if type(messages) is not list or not messages:
            return None
        contents: list[str] = []
        assistant: list[int] = []
        overhead = REPLY_PRIMING_TOKENS
        present = 0
        for message in messages:
            if type(message) is not dict or not message.keys() <= _PLAIN_KEYS:
                return None
            role, content = message.get("role"), message.get("content")
            if type(role) is not str or type(content) is not str or not content:
                return None
            bit = _PLAIN_ROLES.get(role, 0)
            if not bit or type(message.get("weight")) is str:
                return None  # a string weight would be counted, as every string value is
            if bit == 4:
                if content.isspace():
                    return None
                assistant.append(len(contents))
            present |= bit
            overhead += self.message_tokens[role]
            contents.append(content)
        owner, start = len(self.starts), len(self.texts)
        self.starts.append(start)
        self.size_lines.append(line)
        self.overheads.append(overhead)
        self.message_counts.append(len(messages))
        self.assistant_at += [start + at for at in assistant]
        self.assistant_of += [owner] * len(assistant)
        self.texts += contents
        return present, "\n".join(contents)

    def queue(self, messages: list[Any], line: int) -> None:
        """Queue any conversation's strings as the cookbook counts them: every string value."""
        owner = len(self.starts)
        self.starts.append(len(self.texts))
        self.size_lines.append(line)
        self.message_counts.append(len(messages))
        overhead = REPLY_PRIMING_TOKENS
        for message in messages:
            if type(message) is not dict:
                continue
            overhead += TOKENS_PER_MESSAGE + (TOKENS_PER_NAME if "name" in message else 0)
            assistant = message.get("role") == "assistant"
            for key, value in message.items():
                if type(value) is not str:
                    continue
                if key == "role" and value in self.role_tokens:
                    overhead += self.role_tokens[value]
                    continue
                if assistant and key == "content":
                    self.assistant_at.append(len(self.texts))
                    self.assistant_of.append(owner)
                self.texts.append(value)
        self.overheads.append(overhead)

    def add_text(self, index: int, number: int, stripped: bytes, text: str) -> None:
        self.example_texts[index] = text
        self.keys.append((number, xxh3_64_intdigest(stripped), near_key(text)))

    def finish(self, tally: Tally) -> None:
        counts = np.asarray(count_texts(self.texts, self.encoding), dtype=np.int64)
        cumulative = np.concatenate(([0], np.cumsum(counts)))
        starts = np.asarray(self.starts, dtype=np.int64)
        ends = np.append(starts[1:], len(self.texts))
        totals = np.asarray(self.overheads, dtype=np.int64) + cumulative[ends] - cumulative[starts]
        owners = np.asarray(self.assistant_of, dtype=np.int64)
        assistant = np.bincount(owners, weights=counts[self.assistant_at], minlength=len(starts))
        sizes = np.column_stack([self.message_counts, totals, assistant, self.size_lines])
        tally.size_parts.append(sizes.astype(np.int64).reshape(-1, 4))
        tally.key_parts.append(np.array(self.keys, dtype=np.uint64).reshape(-1, 3))


@functools.cache
def _role_tokens(encoding: Encoding) -> dict[str, int]:
    roles = sorted(checks.CHAT_ROLES)
    return dict(zip(roles, count_texts(roles, encoding), strict=True))


def near_key(text: str) -> int:
    # str.lower is slow for all it knows of Unicode; ASCII text needs only the byte table.
    data = (text if text.isascii() else text.lower()).encode("utf-8", "surrogatepass")
    return xxh3_64_intdigest(data.translate(_ASCII_LOWER, _IGNORED))
