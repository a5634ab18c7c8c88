"""Editing a transcript's segments while keeping each word's time.

A segment's words are the engine's while they still make up its text (``join_words``, so also
in Chinese, written without spaces), else one per whitespace-separated token, so that the editor
can highlight the word being played and subtitles can be cut between words. Engines that time
no words get estimated ones, spread over the segment by length; an edited text keeps the times
of the words it still has and spreads the new ones over the time of those they replace.
"""

from __future__ import annotations

import dataclasses
from difflib import SequenceMatcher

from voxdesk.core.stt.base import Segment, Transcript, Word, join_words


def aligned_words(segment: Segment) -> tuple[Word, ...]:
    """The segment's words, one per token of its text (estimated where the engine gave none)."""
    if _spell(segment.words, segment.text):
        return segment.words
    return _realign(segment.words, segment.text.split(), segment.start, segment.end)


def with_text(segment: Segment, text: str) -> Segment:
    """The segment with new text; words that stayed keep their times and confidence.

    A word the user typed in place of another takes its time and full confidence: a person
    checked it.
    """
    words = aligned_words(segment)
    if not _spell(words, text):
        words = _realign(words, text.split(), segment.start, segment.end)
    return dataclasses.replace(segment, text=" ".join(text.split()), words=words)


def split(segment: Segment, before: int) -> tuple[Segment, Segment]:
    """Two segments, cut before the word at index ``before`` (of ``aligned_words``)."""
    words = aligned_words(segment)
    if not 0 < before < len(words):
        raise ValueError(f"A segment of {len(words)} words cannot be cut before word {before}.")
    first, second = words[:before], words[before:]
    cut = second[0].start
    return (
        dataclasses.replace(
            segment, end=max(segment.start, cut), text=join_words(first), words=first
        ),
        dataclasses.replace(segment, start=cut, text=join_words(second), words=second),
    )


def merge(first: Segment, second: Segment) -> Segment:
    """One segment from two neighbours; the first one's speaker stays."""
    words = aligned_words(first) + aligned_words(second)
    return dataclasses.replace(
        first, end=max(first.end, second.end), text=join_words(words), words=words
    )


def shifted(segment: Segment, seconds: float) -> Segment:
    """The segment and its words moved by ``seconds`` (never before the start of the audio)."""
    seconds = max(seconds, -segment.start)
    words = tuple(
        dataclasses.replace(w, start=w.start + seconds, end=w.end + seconds) for w in segment.words
    )
    return dataclasses.replace(
        segment, start=segment.start + seconds, end=segment.end + seconds, words=words
    )


def with_segments(transcript: Transcript, segments: tuple[Segment, ...]) -> Transcript:
    """The transcript with edited segments; its text follows them."""
    text = join_words(segment.text for segment in segments)
    return dataclasses.replace(transcript, text=text, segments=segments)


def _spell(words: tuple[Word, ...], text: str) -> bool:
    """The words make up ``text`` exactly, but for runs of whitespace."""
    return bool(words) and join_words(words) == " ".join(text.split())


def _realign(
    words: tuple[Word, ...], tokens: list[str], start: float, end: float
) -> tuple[Word, ...]:
    old = [word.text.strip() for word in words]
    result: list[Word] = []
    opcodes = SequenceMatcher(a=old, b=tokens, autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in opcodes:
        before, new = words[i1:i2], tokens[j1:j2]
        if tag == "equal":
            result += [dataclasses.replace(w, text=t) for w, t in zip(before, new, strict=True)]
        elif len(before) == len(new):
            result += [Word(w.start, w.end, t) for w, t in zip(before, new, strict=True)]
        elif new:
            span_start = before[0].start if before else (result[-1].end if result else start)
            span_end = before[-1].end if before else (words[i2].start if i2 < len(words) else end)
            result += _spread(new, span_start, max(span_start, span_end))
    return tuple(result)


def _spread(tokens: list[str], start: float, end: float) -> list[Word]:
    """Words over ``start``..``end``, each given time in proportion to its length."""
    total = sum(len(token) for token in tokens)
    spread: list[Word] = []
    clock = start
    for token in tokens:
        length = (end - start) * len(token) / total
        spread.append(Word(round(clock, 3), round(clock + length, 3), token))
        clock += length
    return spread
