"""Exact OpenAI token counts, offline.

tiktoken downloads its encodings at run time, which cannot work here; toktok (toktok-rs) has
cl100k_base and o200k_base compiled in and counts without building id lists, in parallel and
outside the GIL. The test suite checks its counts in both encodings against tiktoken itself, on
real text and on every character Unicode 14 assigns. The two carry Unicode tables of different
versions, so characters assigned since (CJK Extension J, for one) may be classed differently and
a count next to one can differ by a token.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import toktok

Encoding = Literal["cl100k_base", "o200k_base"]

# The chat format's overhead, as OpenAI's fine-tuning data-preparation cookbook counts it.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3

_O200K_PREFIXES = ("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o")


def encoding_for_model(model: str) -> Encoding:
    """o200k_base for the GPT-4o generation onwards, cl100k_base for GPT-4 and GPT-3.5."""
    name = model.removeprefix("ft:")
    return "o200k_base" if name.startswith(_O200K_PREFIXES) else "cl100k_base"


def count_texts(texts: Sequence[str], encoding: Encoding = "cl100k_base") -> list[int]:
    """Token count of each text, special-token strings counted as plain text."""
    return list(toktok.batch_count(list(texts), encoding)) if texts else []
