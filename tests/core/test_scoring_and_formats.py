"""Transcript scoring (WER after normalisation) and the txt/srt/vtt/json writers."""

from __future__ import annotations

import html
import io
import json

import pytest
import srt
import webvtt
from hypothesis import given
from hypothesis import strategies as st

from bench.scoring import error_counts, normalize, word_error_rate
from voxdesk.core.stt import Segment, Timings, Transcript
from voxdesk.core.stt.base import Word
from voxdesk.core.stt.formats import CueLimits, render


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("Go forward 10 meters.", "en", "go forward ten meters"),
        ("1, 2, 3", "en", "one two three"),
        ("And Mr. John", "en", "and mister john"),
        ("He was not an ill-disposed man", "en", "he was not an ill disposed man"),
        ("et c'est la dictée numéro 1.", "fr", "et c'est la dictée numéro un"),
        ("Мы идём в 7 часов", "ru", "мы идем в семь часов"),
    ],
)
def test_normalize(text: str, language: str, expected: str) -> None:
    assert normalize(text, language) == expected


def test_wer_counts_substitutions_deletions_insertions() -> None:
    assert word_error_rate("ten of clubs", "10 of clubs") == 0.0
    assert word_error_rate("ten of clubs", "ten of clothes") == pytest.approx(1 / 3)
    assert word_error_rate("ten of clubs", "ten clubs") == pytest.approx(1 / 3)
    assert word_error_rate("ten of clubs", "") == 1.0
    assert error_counts("four queen of clubs", "for queen of clothes") == (2, 4)


TRANSCRIPT = Transcript(
    text="Hello there. General Kenobi!",
    language="en",
    engine="whisper",
    model="base",
    timings=Timings(audio_seconds=3725.5, transcribe_seconds=10.0),
    segments=(Segment(0.0, 1.5, "Hello there."), Segment(3723.25, 3725.5, "General Kenobi!")),
)


def test_srt() -> None:
    assert render(TRANSCRIPT, "srt") == (
        "1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n"
        "2\n01:02:03,250 --> 01:02:05,500\nGeneral Kenobi!\n"
    )


def test_vtt() -> None:
    assert render(TRANSCRIPT, "vtt") == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello there.\n\n"
        "01:02:03.250 --> 01:02:05.500\nGeneral Kenobi!\n"
    )


def test_json_and_text() -> None:
    data = json.loads(render(TRANSCRIPT, "json"))
    assert data["segments"][1] == {"start": 3723.25, "end": 3725.5, "text": "General Kenobi!"}
    assert data["timings"]["real_time_factor"] == pytest.approx(10 / 3725.5, abs=1e-4)
    assert render(TRANSCRIPT, "txt") == "Hello there. General Kenobi!\n"


def test_a_transcript_without_segments_is_one_cue() -> None:
    plain = Transcript("just text", "en", "google", Timings(2.0, 1.0))
    assert render(plain, "srt") == "1\n00:00:00,000 --> 00:00:02,000\njust text\n"
    assert render(Transcript("", None, "google", Timings(2.0, 1.0)), "srt") == ""


cue_texts = st.one_of(
    st.sampled_from(["Tom & Jerry", "x < 3 > 2", "a --> b", "one\n\ntwo", "  padded  ", "<i>"]),
    st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), whitelist_characters="\n"),
            min_size=1, max_size=30),
).filter(str.strip)  # fmt: skip


@st.composite
def transcripts(draw: st.DrawFn) -> Transcript:
    segments, clock = [], 0.0
    for text in draw(st.lists(cue_texts, max_size=4)):
        start = clock + draw(st.floats(0, 5))
        clock = start + draw(st.floats(0.001, 5))
        segments.append(Segment(start, clock, text))
    text = " ".join(segment.text for segment in segments) or draw(cue_texts)
    return Transcript(text, "en", "whisper", Timings(clock + 1, 1.0), segments=tuple(segments))


def cue_lines(text: str) -> str:
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


@given(transcripts())
def test_subtitle_parsers_read_back_every_cue(transcript: Transcript) -> None:
    cues = transcript.segments or (Segment(0.0, transcript.timings.audio_seconds, transcript.text),)
    subtitles = list(srt.parse(render(transcript, "srt")))
    captions = webvtt.from_buffer(io.StringIO(render(transcript, "vtt"))).captions
    assert len(subtitles) == len(captions) == len(cues)
    for subtitle, caption, cue in zip(subtitles, captions, cues, strict=True):
        assert subtitle.start.total_seconds() == pytest.approx(cue.start, abs=0.001)
        assert subtitle.end.total_seconds() == pytest.approx(cue.end, abs=0.001)
        assert subtitle.content == cue_lines(cue.text)
        # webvtt-py leaves character references as they are written
        assert html.unescape(caption.text) == cue_lines(cue.text)


@st.composite
def timed_segments(draw: st.DrawFn) -> Segment:
    """A segment of words with times, as Whisper gives them (a few longer than any line)."""
    texts = draw(st.lists(st.text("abcdéфя,.'", min_size=1, max_size=25), min_size=1, max_size=40))
    words, clock = [], draw(st.floats(0, 100))
    for text in texts:
        start = clock + draw(st.floats(0, 1))
        clock = start + draw(st.floats(0.01, 3))
        words.append(Word(round(start, 3), round(clock, 3), text, 0.9))
    return Segment(words[0].start, words[-1].end, " ".join(texts), tuple(words))


@given(
    st.lists(timed_segments(), min_size=1, max_size=4),
    st.integers(8, 60),
    st.floats(1.0, 10.0),
)
def test_cues_are_cut_between_words_within_the_limits(
    segments: list[Segment], width: int, seconds: float
) -> None:
    ordered, clock = [], 0.0
    for segment in segments:  # one after the other, as in a transcript
        moved = clock - segment.start + 1
        ordered.append(Segment(segment.start + moved, segment.end + moved, segment.text,
                               tuple(Word(w.start + moved, w.end + moved, w.text, w.probability)
                                     for w in segment.words)))  # fmt: skip
        clock = ordered[-1].end
    transcript = Transcript("", "en", "whisper", Timings(clock + 1, 1.0), segments=tuple(ordered))
    cues = list(srt.parse(render(transcript, "srt", CueLimits(width, seconds))))
    said = [word for cue in cues for word in cue.content.split()]
    # Nothing lost, nothing reordered (a lone "." joins the word before it, unspaced).
    assert "".join(said) == "".join(w.text for s in ordered for w in s.words)
    for cue in cues:
        lines = cue.content.splitlines()
        assert len(lines) <= 2
        assert all(len(line) <= width or " " not in line for line in lines)
        single_word = len(cue.content.split()) == 1
        assert (cue.end - cue.start).total_seconds() <= seconds + 0.001 or single_word


def test_json_keeps_each_words_time_and_probability() -> None:
    segment = Segment(0.0, 1.0, "hi there", (Word(0.0, 0.4, "hi", 0.5), Word(0.5, 1.0, "there")))
    transcript = Transcript("hi there", "en", "whisper", Timings(1.0, 0.1), segments=(segment,))
    (exported,) = json.loads(render(transcript, "json"))["segments"]
    assert exported["words"][0] == {"start": 0.0, "end": 0.4, "text": "hi", "probability": 0.5}


def test_a_long_segment_becomes_cues_of_two_lines() -> None:
    words = tuple(Word(n, n + 0.9, f"word{n}") for n in range(6))
    segment = Segment(0.0, 6.0, " ".join(w.text for w in words), words)
    transcript = Transcript(segment.text, "en", "whisper", Timings(6.0, 1.0), segments=(segment,))
    assert render(transcript, "srt", CueLimits(max_line_length=12)) == (
        "1\n00:00:00,000 --> 00:00:03,900\nword0 word1\nword2 word3\n\n"
        "2\n00:00:04,000 --> 00:00:05,900\nword4 word5\n"
    )
