"""Word timestamps from Whisper, and editing segments while keeping each word's time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import srt

from bench.scoring import normalize
from tests.conftest import clip
from voxdesk.core.stt import Segment, Timings, Transcript
from voxdesk.core.stt.base import Word, join_words
from voxdesk.core.stt.formats import CueLimits, render
from voxdesk.core.stt.whisper import WhisperTranscriber
from voxdesk.core.stt.whisper_models import locate_model
from voxdesk.core.stt.words import aligned_words, merge, shifted, split, with_segments, with_text

SEGMENT = Segment(
    10.0,
    14.0,
    "the quick brown fox",
    words=(
        Word(10.0, 10.5, "the", 0.99),
        Word(10.5, 11.0, "quick", 0.3),
        Word(11.2, 12.0, "brown", 0.9),
        Word(12.5, 14.0, "fox", 0.95),
    ),
)


@pytest.mark.slow
async def test_whisper_times_each_word_of_a_real_clip() -> None:
    item = clip("pocketsphinx_librivox_0870.wav")
    whisper = WhisperTranscriber("base", word_timestamps=True)
    transcript = await whisper.transcribe(await item.decode(), language="en")
    words = [word for segment in transcript.segments for word in segment.words]
    heard = normalize(" ".join(word.text for word in words), "en")
    assert heard == normalize(transcript.text, "en")  # every word, in order
    assert heard.split()[:4] == ["and", "mister", "john", "dashwood"]
    for segment in transcript.segments:
        starts = [word.start for word in segment.words]
        assert starts == sorted(starts)
        for word in segment.words:
            assert segment.start - 0.02 <= word.start <= word.end <= segment.end + 0.02
            assert 0.0 <= word.probability <= 1.0
            assert {type(n) for n in (word.start, word.end, word.probability)} == {float}
    exported = json.loads(render(transcript, "json"))["segments"][0]["words"][0]
    assert set(exported) == {"start", "end", "text", "probability"}


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "pocketsphinx_librivox_0870.wav",
        "deepspeech_new_home_in_the_stars.wav",
        "speechrec_french.aiff",
    ],
)
async def test_short_clips_are_timed_without_the_30_second_window(
    name: str, whisper: WhisperTranscriber, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Word times come from the clip-length fast path, and agree with the times of
    faster-whisper's own decoding of the padded 30 s window (measured: 0.01 s apart on average)."""
    from faster_whisper import WhisperModel

    item = clip(name)
    pcm = await item.decode()
    model = WhisperModel(str(locate_model("base").path), compute_type="int8", cpu_threads=2)
    padded, _ = model.transcribe(
        pcm.as_float32(), language=item.language, beam_size=5, word_timestamps=True
    )
    expected = [word for piece in padded for word in piece.words or ()]
    plain = await whisper.transcribe(pcm, language=item.language)

    windows: list[object] = []
    decode_window = WhisperModel.transcribe

    def counted(*args: Any, **kwargs: Any) -> Any:
        windows.append(args)
        return decode_window(*args, **kwargs)

    monkeypatch.setattr(WhisperModel, "transcribe", counted)
    timed = WhisperTranscriber("base", word_timestamps=True)
    transcript = await timed.transcribe(pcm, language=item.language)
    words = [word for segment in transcript.segments for word in segment.words]

    assert not windows  # the slow path was not taken
    assert transcript.text == plain.text
    assert [word.text for word in words] == [word.word.strip() for word in expected]
    gaps = [
        abs(word.start - other.start) + abs(word.end - other.end)
        for word, other in zip(words, expected, strict=True)
    ]
    assert sum(gaps) / (2 * len(gaps)) < 0.1
    assert max(gaps) < 0.4


def test_an_edited_word_keeps_its_time_and_is_no_longer_doubted() -> None:
    edited = with_text(SEGMENT, "the quack brown fox jumps")
    assert [w.text for w in edited.words] == ["the", "quack", "brown", "fox", "jumps"]
    assert edited.words[1] == Word(10.5, 11.0, "quack", 1.0)
    assert edited.words[2] == SEGMENT.words[2]
    assert edited.words[4].start >= edited.words[3].end and edited.words[4].end <= 14.0


def test_words_are_estimated_for_engines_that_time_none() -> None:
    words = aligned_words(Segment(0.0, 3.0, "aa bbbb"))
    assert [(w.text, w.start, w.end) for w in words] == [("aa", 0.0, 1.0), ("bbbb", 1.0, 3.0)]


def test_split_then_merge_gives_the_segment_back() -> None:
    first, second = split(SEGMENT, 2)
    assert (first.text, first.start, first.end) == ("the quick", 10.0, 11.2)
    assert (second.text, second.start, second.end) == ("brown fox", 11.2, 14.0)
    assert merge(first, second) == SEGMENT
    with pytest.raises(ValueError, match="cannot be cut"):
        split(SEGMENT, 0)


def test_shift_moves_the_words_and_stops_at_zero() -> None:
    later = shifted(SEGMENT, 1.5)
    assert (later.start, later.words[3].end) == (11.5, 15.5)
    assert shifted(SEGMENT, -20).start == 0.0


def test_edited_segments_make_the_transcript_text() -> None:
    transcript = Transcript("old", "en", "whisper", Timings(20.0, 1.0), segments=(SEGMENT,))
    edited = with_segments(transcript, (SEGMENT, Segment(15, 16, "jumps")))
    assert edited.text == "the quick brown fox jumps"


@pytest.mark.slow
async def test_the_cli_cuts_subtitles_between_timed_words(tmp_path: Path) -> None:
    from tests.test_cli import voxdesk

    path = clip("pocketsphinx_librivox_0870.wav").path
    out = tmp_path / "subs.srt"
    run = await voxdesk("transcribe", str(path), "-f", "srt", "--max-line-length", "24",
                        "--max-cue-seconds", "3", "-o", str(out))  # fmt: skip
    assert run.code == 0, run.err
    cues = list(srt.parse(out.read_text(encoding="utf-8")))
    assert len(cues) > 2  # 7 s of speech, one segment, cut into cues of at most 3 s
    assert normalize(" ".join(cue.content for cue in cues), "en").startswith("and mister john")
    for cue in cues:
        assert all(len(line) <= 24 for line in cue.content.splitlines())
        assert (cue.end - cue.start).total_seconds() <= 3.0


CHINESE = Segment(
    0.0,
    2.0,
    "我用Python写代码。",
    words=(
        Word(0.0, 0.4, "我用"),
        Word(0.4, 1.0, "Python"),
        Word(1.0, 1.2, "写"),
        Word(1.2, 2.0, "代码。"),
    ),
)


def test_english_words_join_with_one_space_between() -> None:
    words = [Word(0.0, 0.4, "Hello,"), Word(0.5, 0.9, "world.")]
    assert join_words(words) == "Hello, world."
    assert join_words(["Hello, world.", " ", "", " again "]) == "Hello, world. again"


def test_closing_punctuation_joins_the_text_before_it() -> None:
    """A comma heard on its own (after words already final) is not spaced like a word."""
    assert join_words(["He was", ",", "not", "(quite)", "ill."]) == "He was, not (quite) ill."
    assert join_words([Word(0.0, 0.3, "yes"), Word(0.3, 0.3, "?")]) == "yes?"


def test_chinese_words_join_without_spaces() -> None:
    assert join_words(CHINESE.words) == CHINESE.text
    assert join_words(["你好", "，", "世界"]) == "你好，世界"
    assert join_words(["こんにちは", "世界"]) == "こんにちは世界"
    assert join_words(["안녕하세요", "세계"]) == "안녕하세요 세계"  # Korean has spaces


def test_chinese_words_keep_their_times_through_editing() -> None:
    assert aligned_words(CHINESE) == CHINESE.words
    first, second = split(CHINESE, 2)
    assert (first.text, second.text) == ("我用Python", "写代码。")
    assert merge(first, second) == CHINESE
    assert with_text(CHINESE, " 我用Python写代码。") == CHINESE
    transcript = Transcript(CHINESE.text, "zh", "whisper", Timings(2.0, 1.0), segments=(CHINESE,))
    cues = srt.parse(render(transcript, "srt", CueLimits(max_line_length=8)))
    assert [cue.content for cue in cues] == ["我用Python\n写代码。"]  # cut between words
