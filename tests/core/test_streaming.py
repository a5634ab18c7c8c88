"""Live transcription on real recordings, fed in 100 ms blocks as a microphone gives them.

The blocks come faster than real time: ``feed`` runs a pass whenever a second of new audio has
arrived, whatever the clock says, so these results do not depend on the machine's speed.
Measured with Whisper base: the English clips one after another, 1 error in 53 words, as
many as the same clips as files ("Queen of Clothes"); 4 in 159 for the take three times. Passes
read 2.7 to 2.8 times the audio on average.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pytest
import pytest_asyncio

from bench.scoring import error_counts
from tests.conftest import clip, corpus_clips
from voxdesk.core.audio import FileSource, Pcm
from voxdesk.core.stt.base import TranscriptionError, Word, join_words
from voxdesk.core.stt.streaming import (
    LiveTranscriber,
    LiveUpdate,
    StreamOptions,
    live_transcriber,
    transcribe_live,
)
from voxdesk.core.stt.whisper import WhisperTranscriber

STREAMING_WER_LIMIT = 0.04
PASS_READS_LIMIT = 3.0  # audio read by all passes together, per second of audio
BLOCK = 0.1


@dataclass
class Run:
    audio: Pcm
    reference: str
    updates: list[LiveUpdate] = field(default_factory=list)
    text: str = ""
    samples_read: int = 0


async def english_take(repeat: int = 1) -> tuple[Pcm, str]:
    """The English clips one after another, each followed by a second of silence."""
    parts, words = [], []
    for item in [c for c in corpus_clips() if c.language == "en"] * repeat:
        parts += [await item.decode(), Pcm(bytes(32_000))]
        words.append(item.reference)
    return Pcm.concatenate(parts), " ".join(words)


async def stream(live: LiveTranscriber, audio: Pcm) -> list[LiveUpdate]:
    updates = []
    for start in np.arange(0, audio.duration, BLOCK):
        if update := await live.feed(audio.slice(start, start + BLOCK)):
            updates.append(update)
    return [*updates, await live.finish()]


async def run_take(whisper: WhisperTranscriber, repeat: int) -> Run:
    audio, reference = await english_take(repeat)
    live = LiveTranscriber(whisper, language="en")
    run = Run(audio, reference, await stream(live, audio))
    run.text = live.transcript().text
    run.samples_read = live.cost.samples_recognized
    return run


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def english(whisper: WhisperTranscriber) -> Run:
    return await run_take(whisper, 1)


@pytest.mark.slow
async def test_english_take_within_the_wer_limit(english: Run) -> None:
    found, total = error_counts(english.reference, english.text, "en")
    assert total == 53
    assert found / total <= STREAMING_WER_LIMIT, english.text


@pytest.mark.slow
async def test_partial_words_come_before_the_end_and_finals_never_change(english: Run) -> None:
    final: list[Word] = []
    early = 0
    for update in english.updates:
        final += update.final  # only ever appended to: what was final stays as it was
        early += bool(update.partial) and not update.ended
    assert early >= 10  # words were shown while their utterance went on
    assert join_words(final) == english.text
    assert all(a.end <= b.start + 1e-6 for a, b in itertools.pairwise(final))
    assert all(update.heard <= english.audio.duration + 1e-6 for update in english.updates)


@pytest.mark.slow
async def test_cost_grows_linearly_with_the_audio(
    whisper: WhisperTranscriber, english: Run
) -> None:
    """Three times the audio costs three times as much: no pass reads final audio again.

    Re-transcribing the take so far every few seconds, as the Record page did, reads the audio
    length squared over the interval: for these 88 s, 11 times the audio every 4 s.
    """
    long = await run_take(whisper, 3)
    per_sample_short = english.samples_read / english.audio.frame_count
    per_sample_long = long.samples_read / long.audio.frame_count
    assert per_sample_long <= PASS_READS_LIMIT
    assert per_sample_long <= per_sample_short * 1.25
    found, total = error_counts(long.reference, long.text, "en")
    assert found / total <= STREAMING_WER_LIMIT, long.text


@pytest.mark.slow
async def test_silence_and_noise_never_reach_the_model(whisper: WhisperTranscriber) -> None:
    live = LiveTranscriber(whisper)
    noise = np.random.default_rng(7).normal(0, 300, 16_000 * 4).astype("<i2").tobytes()
    updates = await stream(live, Pcm(bytes(16_000 * 2 * 4) + noise))
    assert live.cost.passes == 0
    assert all(not update.final and not update.partial for update in updates)
    assert live.transcript().text == ""


@pytest.mark.slow
async def test_live_from_a_source_ends_with_everything_final(whisper: WhisperTranscriber) -> None:
    item = clip("deepspeech_new_home_in_the_stars.wav")
    source = FileSource(await item.decode())
    live = live_transcriber(whisper, language="en")
    updates = [update async for update in transcribe_live(source.blocks(), live)]
    assert updates[-1].partial == ()
    heard = " ".join(u.final_text for u in updates if u.final_text)
    assert error_counts(item.reference, heard, "en")[0] == 0
    assert live.transcript().text == heard


async def test_a_source_that_fails_is_reported() -> None:
    class Broken(Exception):
        pass

    async def blocks():  # type: ignore[no-untyped-def]
        yield Pcm(bytes(3200))
        raise Broken

    live = LiveTranscriber(Scripted([]))
    with pytest.raises(Broken):
        async for _ in transcribe_live(blocks(), live):
            pass


async def test_only_whisper_and_16_khz_audio() -> None:
    with pytest.raises(TranscriptionError, match="needs the whisper engine"):
        live_transcriber(object())
    with pytest.raises(TranscriptionError, match="16000 Hz"):
        await LiveTranscriber(Scripted([])).feed(Pcm(bytes(4800), sample_rate=48_000))


class Scripted:
    """A recognizer that says the given words in turn, one list per pass, and counts audio."""

    name = "scripted"
    model_name = "test"

    def __init__(self, passes: list[list[str]], margin: float = 0.3) -> None:
        self.passes = iter(passes)
        self.margin = margin  # seconds after the last word: it was not cut off by the audio's end
        self.lengths: list[int] = []

    def recognize_words(
        self,
        samples: npt.NDArray[np.float32],
        language: str | None,
        prompt: str = "",
        *,
        prefix: str = "",
    ) -> tuple[list[Word], str | None]:
        self.lengths.append(len(samples))
        said = next(self.passes, [])[len(prefix.split()) :]  # as Whisper: on after the prefix
        step = max(0.0, len(samples) / 16_000 - self.margin) / max(1, len(said))
        return [Word(i * step, (i + 1) * step, w) for i, w in enumerate(said)], "en"


@pytest.mark.slow
async def test_speech_with_no_pause_and_no_agreement_is_cut_at_the_limit() -> None:
    """Speech that never pauses and never settles is still cut: passes stay bounded."""
    speech, _ = await english_take()
    changing = [[f"word{n}", f"other{n}"] for n in range(200)]  # two passes never agree
    recognizer = Scripted(changing)
    options = StreamOptions(hangover=1000.0, max_buffer=5.0)
    live = LiveTranscriber(recognizer, options=options)
    updates = await stream(live, speech)
    assert max(recognizer.lengths) <= (5.0 + options.min_chunk) * 16_000
    assert sum(len(update.final) for update in updates) >= 4  # cut, so words became final


async def cards_in_frames(lead: float, times: int) -> Pcm:
    """ "four queen of clubs" (a pause after "four") ``times``, as a voice channel gives it."""
    spoken = await clip("pocketsphinx_cards_002.wav").decode()
    silence = Pcm(bytes(int(lead * 16_000) * 2))
    return Pcm.concatenate([silence, *[spoken, Pcm(bytes(64_000))] * times])


async def stream_frames(live: LiveTranscriber, audio: Pcm) -> list[LiveUpdate]:
    """``audio`` in 20 ms frames, as a voice channel gives it."""
    updates = []
    for start in np.arange(0, audio.duration, 0.02):
        if update := await live.feed(audio.slice(start, start + 0.02)):
            updates.append(update)
    return [*updates, await live.finish()]


async def test_words_heard_before_the_utterance_ends_are_kept() -> None:
    """The pass that ends an utterance hears only the final text again (Whisper does, on the
    short stretch after a cut): the words the pass before it heard still become final."""
    recognizer = Scripted([["four"], ["four", "queen", "of", "clubs"], ["four"]])
    live = LiveTranscriber(recognizer, language="en")
    updates = await stream_frames(live, await cards_in_frames(0.4, 1))
    assert join_words(w for u in updates for w in u.final) == "four queen of clubs"
    assert live.transcript().text == "four queen of clubs"


@pytest.mark.slow
@pytest.mark.parametrize("lead", [0.0, 0.4, 0.6])
async def test_words_after_a_pause_reach_the_text(whisper: WhisperTranscriber, lead: float) -> None:
    """The cards clip, twice, in 20 ms frames: the words after its pause are never lost."""
    live = LiveTranscriber(whisper, language="en")
    updates = await stream_frames(live, await cards_in_frames(lead, 2))
    heard = join_words(w for u in updates for w in u.final)
    assert heard == live.transcript().text
    assert heard.lower().count("queen of") == 2, heard  # was "4 4 Queen of Clothes"


async def test_a_word_cut_off_by_the_end_of_a_pass_is_not_agreed_on() -> None:
    """ "ill" at the very end of one pass may be the start of "ill-disposed": two passes that
    both say "ill" agree on the words before it only."""
    passes = [["he", "was", "ill"], ["he", "was", "ill", "disposed"], ["he", "was", "ill"]]
    live = LiveTranscriber(Scripted(passes, margin=0.0), language="en")
    take = Pcm.concatenate([await clip("pocketsphinx_librivox_0880.wav").decode()] * 2)
    updates = await stream_frames(live, take.slice(0, 2.5))
    firm = [update.final for update in updates if update.final]
    assert [word.text for word in firm[0]] == ["he", "was"]


async def test_the_last_pass_hears_the_words_after_the_final_ones_in_context(
    whisper: WhisperTranscriber,
) -> None:
    """After "He was" became final, the rest of the sentence was once heard alone, as "not.
    And he'll dispose young men". A pass hears the final words again (taken as said) and the
    sentence comes out as the file's."""
    item = clip("pocketsphinx_librivox_0880.wav")
    live = LiveTranscriber(whisper, language="en")
    updates = await stream_frames(live, Pcm.concatenate([await item.decode(), Pcm(bytes(32_000))]))
    assert sum(bool(update.final) for update in updates) >= 2  # final before the end, too
    heard = join_words(w for u in updates for w in u.final)
    assert error_counts(item.reference, heard, "en")[0] == 0, heard


async def test_an_utterance_ends_as_soon_as_it_has_been_quiet_for_the_hangover() -> None:
    """Its final words come 0.5 s after the speech, not at the next second's pass, and the
    quiet after it costs one pass, not one per frame."""
    recognizer = Scripted([["four"], ["four", "queen", "of", "clubs"]] * 3)
    live = LiveTranscriber(recognizer, language="en")
    audio = await cards_in_frames(0.0, 1)
    updates = await stream_frames(live, Pcm.concatenate([audio, Pcm(bytes(96_000))]))
    ended = [update.heard for update in updates if update.ended]
    spoken = clip("pocketsphinx_cards_002.wav").duration
    assert len(ended) == 1
    assert ended[0] <= spoken + StreamOptions().hangover + 0.3  # the next tick: at 3 s
    assert live.cost.passes <= 3


async def test_a_final_word_said_again_is_kept() -> None:
    """ "well, no, no, never": after "well no" is final (and forced as the prefix), the pass that
    goes on with "no never" says the word again; it is not the final "no" heard again."""
    passes = [["well", "no"], *[["well", "no", "no", "never"]] * 2]
    live = LiveTranscriber(Scripted(passes), language="en")
    updates = await stream_frames(live, await clip("pocketsphinx_librivox_0870.wav").decode())
    assert join_words(w for u in updates for w in u.final) == "well no no never"
