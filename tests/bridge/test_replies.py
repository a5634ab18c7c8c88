"""Splitting replies to Discord's length limit."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from voxdesk.bridge.replies import FENCE, split_message

words = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="`"), max_size=30)
breaks = st.sampled_from([" ", "\n", "\n\n", "    ", "😀" * 30])
fences = st.sampled_from(["\n```\n", "\n```python\n", "\n```json\n"])


@given(st.lists(st.one_of(words, breaks), max_size=40), st.integers(20, 200))
def test_pieces_fit_and_keep_every_character_in_order(parts: list[str], limit: int) -> None:
    text = "".join(parts)
    pieces = split_message(text, limit)
    assert all(0 < len(piece) <= limit for piece in pieces)
    assert all(piece == piece.strip() for piece in pieces)
    # only the whitespace at a cut goes
    assert "".join("".join(piece.split()) for piece in pieces) == "".join(text.split())


@given(st.lists(st.one_of(words, breaks, fences), max_size=60), st.integers(100, 400))
def test_code_blocks_cut_in_two_are_closed_and_reopened(parts: list[str], limit: int) -> None:
    text = "".join(parts)
    pieces = split_message(text, limit)
    assert all(len(piece) <= limit for piece in pieces)
    # every piece but the last closes what it opens; only fence lines were added
    assert all(fence_lines(piece) % 2 == 0 for piece in pieces[:-1])
    assert without_fences("\n".join(pieces)) == without_fences(text)


def fence_lines(text: str) -> int:
    return sum(line.strip().startswith(FENCE) for line in text.splitlines())


def without_fences(text: str) -> str:
    kept = [line for line in text.splitlines() if not line.strip().startswith(FENCE)]
    return "".join("".join(kept).split())


def test_cuts_at_a_paragraph_or_line_before_a_word() -> None:
    text = "first paragraph here\n\nsecond one goes on and on"
    assert split_message(text, 30) == ["first paragraph here", "second one goes on and on"]
    assert split_message("x" * 25, 14) == ["x" * 10, "x" * 10, "x" * 5]  # room for a fence


def test_a_code_block_keeps_its_language_and_indentation() -> None:
    code = "\n".join(f"    line_{n} = {n}" for n in range(12))
    pieces = split_message(f"Here:\n```python\ndef f():\n{code}\n```\nDone.", 120)
    assert pieces[0].startswith("Here:\n```python\n") and pieces[0].endswith("\n```")
    assert pieces[1].startswith("```python\n    line_")
    assert pieces[-1].endswith("```\nDone.")
