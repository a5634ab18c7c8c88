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
from voxdesk.core.stt.formats import render


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
