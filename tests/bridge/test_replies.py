"""Splitting replies to Discord's length limit."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bridge.replies import split_message

words = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)


@given(st.lists(st.one_of(words, st.sampled_from([" ", "\n", "\n\n", "😀" * 30])), max_size=40),
       st.integers(20, 200))  # fmt: skip
def test_pieces_fit_and_keep_every_character_in_order(parts: list[str], limit: int) -> None:
    text = "".join(parts)
    pieces = split_message(text, limit)
    assert all(0 < len(piece) <= limit for piece in pieces)
    assert all(piece == piece.strip() for piece in pieces)
    # only the whitespace at a cut goes
    assert "".join("".join(piece.split()) for piece in pieces) == "".join(text.split())


def test_cuts_at_a_paragraph_or_line_before_a_word() -> None:
    text = "first paragraph here\n\nsecond one goes on and on"
    assert split_message(text, 30) == ["first paragraph here", "second one goes on and on"]
    assert split_message("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
