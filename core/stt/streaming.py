"""Live transcription: audio goes in as it is captured, words come out as partial, then final.

The method is whisper_streaming's (Macháček, Dabre and Bojar, 2023), made cheaper for the CPU:

- A pass runs once ``min_chunk`` seconds of new audio arrived, over the audio not yet final,
  and at once when the newest audio has been quiet long enough to end an utterance (an energy
  check on 20 ms frames), so the final words of an utterance need not wait for the next tick.
- Silero voice activity detection (shipped in faster-whisper; about 3 ms of CPU per second of
  audio) cuts the stream into utterances: audio with no speech is dropped unread, and speech
  followed by ``hangover`` seconds of silence ends an utterance, whose words then all become final.
- Inside an utterance, LocalAgreement-2: the words two consecutive passes agree on become final;
  the rest is the partial guess, shown and replaced by the next pass.
- Final words leave the audio, except the last ``lookback`` seconds of them: a pass hears them
  again and takes their text as said (Whisper's decoder prefix), so the words after a cut are
  heard in their sentence ("not an ill-disposed young man" after "He was", not "not. And he'll
  dispose young men"), yet the text already final is never decoded twice. A pass costs the
  open audio plus that bounded lookback, and the whole cost grows linearly with the audio.
  Older final text goes to the next pass as Whisper's prompt.
- Audio that stays open for ``max_buffer`` seconds (no agreement, no pause) is cut there: the
  pass's words all become final, as Whisper's 30 s window allows no more.

Finals never change once emitted. One ``LiveTranscriber`` is one stream (a microphone, one
speaker in a voice channel); several can share one Whisper model.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from voxdesk.core.audio.pcm import SAMPLE_RATE, Pcm
from voxdesk.core.stt.base import (
    Segment,
    Timings,
    Transcript,
    TranscriptionError,
    Word,
    join_words,
    split_language,
)
from voxdesk.core.stt.whisper import WhisperTranscriber
from voxdesk.core.work import run_blocking

_PROMPT_CHARACTERS = 400  # of the final text, given to the next pass as context
_SPEECH_MARGIN = 0.2  # seconds of audio kept after the last speech when an utterance ends
_ONSET_SECONDS = 0.5  # of a silent buffer kept: speech may be starting at its end
_OVERLAP_WORDS = 5  # a pass may hear again up to this many final words at its start
_FRAME = SAMPLE_RATE // 50  # 20 ms: the step of the quick check for the end of speech
_QUIET_RMS = 10 ** (-45 / 20)  # quieter frames are no speech, to that check
_PAUSE = 0.25  # seconds of quiet after speech that start a pass before the hangover is over
_CUT_OFF = 0.25  # seconds: a word ending this close to the end of a pass's audio may go on
_VAD_PAD = 0.1  # seconds the voice activity detection adds after speech (``speech_pad_ms``)


class WordRecognizer(Protocol):
    """What the streaming engine needs from a speech engine: words with times, blocking."""

    @property
    def name(self) -> str: ...

    @property
    def model_name(self) -> str: ...

    def recognize_words(
        self,
        samples: npt.NDArray[np.float32],
        language: str | None,
        prompt: str = "",
        *,
        prefix: str = "",
    ) -> tuple[list[Word], str | None]: ...


@dataclass(frozen=True)
class StreamOptions:
    min_chunk: float = 1.0  # seconds of new audio that start a pass
    hangover: float = 0.5  # seconds of silence after speech that end an utterance
    max_buffer: float = 25.0  # Whisper's 30 s window, less the padding the encoder adds
    lookback: float = 2.0  # seconds of final speech a pass hears again, as context


@dataclass(frozen=True)
class LiveUpdate:
    """What one pass found. Times are seconds from the start of the stream."""

    final: tuple[Word, ...] = ()  # newly final words, in order; they never change
    partial: tuple[Word, ...] = ()  # the guess after all final words; replaces the last guess
    ended: bool = False  # an utterance ended here: all of its words are final
    heard: float = 0.0  # seconds of audio received when the pass ran
    language: str | None = None

    @property
    def final_text(self) -> str:
        return join_words(self.final)

    @property
    def partial_text(self) -> str:
        return join_words(self.partial)


@dataclass
class StreamCost:
    """What the stream has cost so far: model passes, audio read by them, their time."""

    passes: int = 0
    samples_recognized: int = 0
    recognize_seconds: float = 0.0


class _Stream:
    """The stream's state; ``process`` runs in a worker thread, one pass at a time."""

    def __init__(
        self, recognizer: WordRecognizer, language: str | None, options: StreamOptions
    ) -> None:
        self.recognizer = recognizer
        self.requested_language = language
        self.options = options
        self.buffer: npt.NDArray[np.float32] = np.zeros(0, dtype=np.float32)
        self.offset = 0.0  # stream time of the buffer's first sample
        self.unprocessed = 0  # samples received since the last pass
        self.quiet = 0  # samples of quiet at the end of the buffer, by their energy alone
        self.speaking = False  # loud audio came in and no pass has heard the quiet after it
        self.open_words: list[Word] = []  # final words of the utterance still going on
        self.guess: list[Word] = []  # the last pass's words that are not final yet
        self.guess_until = 0.0  # the stream time up to which that pass read
        self.language: str | None = None  # detected at the utterance's first pass
        self.utterances: list[Segment] = []
        self.recent: list[Word] = []  # the last final words, which a pass may hear again
        self.held: list[Word] = []  # final words still in the buffer, heard again as context
        self.context = ""  # the final text before them
        self.cost = StreamCost()

    @property
    def heard(self) -> float:
        return self.offset + len(self.buffer) / SAMPLE_RATE

    def append(self, samples: npt.NDArray[np.float32]) -> None:
        self.buffer = np.concatenate([self.buffer, samples])
        self.unprocessed += len(samples)
        loud_until = _loud_until(samples)
        if loud_until is None:
            self.quiet += len(samples)
        else:
            self.quiet = len(samples) - loud_until
            self.speaking = True

    @property
    def due(self) -> bool:
        """A pass is due: enough new audio; or speech just paused, so that the words are ready
        when the pause turns out to end the utterance; or it did (cheap energy checks, so the
        final words need not wait for the next tick)."""
        options = self.options
        if self.unprocessed >= options.min_chunk * SAMPLE_RATE:
            return True
        if self.speaking and self.quiet >= _PAUSE * SAMPLE_RATE:
            return True
        is_open = bool(self.guess or self.open_words)
        return is_open and self.quiet >= (options.hangover + _VAD_PAD) * SAMPLE_RATE

    def process(self, flush: bool = False) -> LiveUpdate:
        new, self.unprocessed = self.unprocessed, 0
        if self.quiet >= _PAUSE * SAMPLE_RATE:
            self.speaking = False  # this pass hears the pause; one early pass per pause
        speech_end = _last_speech_end(self.buffer)
        if speech_end is None:
            self._let_go_held()
            self._drop_until(self.heard - _ONSET_SECONDS)
            return self._update((), ended=self._end_utterance())
        silence = (len(self.buffer) - speech_end) / SAMPLE_RATE
        ending = flush or silence >= self.options.hangover
        cut = len(self.buffer) / SAMPLE_RATE >= self.options.max_buffer
        if not (ending or cut) and speech_end <= len(self.buffer) - new and self.guess:
            return self._update((), ended=False)  # a pause: the last pass heard it all
        if ending or silence >= _PAUSE:  # the silence after speech: Whisper hears "you" in it
            audio = self.buffer[: speech_end + int(_SPEECH_MARGIN * SAMPLE_RATE)]
        else:
            audio = self.buffer
        read_until, heard_before = self.offset + len(audio) / SAMPLE_RATE, self.guess_until
        if ending and self.guess_until >= self.offset + speech_end / SAMPLE_RATE:
            words = self.guess  # the last pass heard all the speech: the same words
        else:
            # Whisper often stops short of the audio's end: the words the last pass heard after
            # this one stopped are kept, and count as heard again (a trade: agreeing only on
            # what both passes returned lost "an ill-disposed young man" after a short pass).
            words = _keeping(self.guess, self._recognize(audio))
            self.guess_until = read_until
        final = words if ending or cut else _agreed(self.guess, words, heard_before)
        self.guess = [] if ending or cut else words[len(final) :]
        self._finalize(final)
        if ending or cut:
            self._let_go_held()
            self._drop_until(read_until)
        return self._update(tuple(final), ended=ending and self._end_utterance())

    def _recognize(self, audio: npt.NDArray[np.float32]) -> list[Word]:
        started = time.perf_counter()
        language = self.requested_language or self.language
        words, detected = self.recognizer.recognize_words(
            audio, language, self.context, prefix=join_words(self.held)
        )
        self.cost.passes += 1
        self.cost.samples_recognized += len(audio)
        self.cost.recognize_seconds += time.perf_counter() - started
        if self.language is None and detected:
            self.language = detected
        moved = [
            dataclasses.replace(w, start=w.start + self.offset, end=w.end + self.offset)
            for w in words
        ]
        if not self.held:  # after a forced prefix, every word is new ("no, no" says it twice)
            moved = _without_overlap(self.recent, moved)
        return _after(self.recent, moved)

    def _finalize(self, words: list[Word]) -> None:
        if not words:
            return
        self.open_words += words
        self.recent = (self.recent + words)[-_OVERLAP_WORDS:]
        held = self.held + words
        kept = [word for word in held if word.end >= words[-1].end - self.options.lookback]
        let_go = held[: len(held) - len(kept)]
        self.held = kept
        if let_go:
            self.context = join_words([self.context, *let_go])[-_PROMPT_CHARACTERS:]
            self._drop_until((let_go[-1].end + kept[0].start) / 2)

    def _let_go_held(self) -> None:
        """The held words become the prompt: their audio goes with the utterance's."""
        self.context = join_words([self.context, *self.held])[-_PROMPT_CHARACTERS:]
        self.held = []

    def _end_utterance(self) -> bool:
        """Close the utterance going on; False when there was none."""
        self.guess = []
        if not self.open_words:
            self.language = None
            return False
        words = tuple(self.open_words)
        self.utterances.append(Segment(words[0].start, words[-1].end, join_words(words)))
        self.open_words = []
        self.language = None
        return True

    def _drop_until(self, moment: float) -> None:
        count = min(len(self.buffer), max(0, round((moment - self.offset) * SAMPLE_RATE)))
        self.buffer = self.buffer[count:]
        self.offset += count / SAMPLE_RATE

    def _update(self, final: tuple[Word, ...], *, ended: bool) -> LiveUpdate:
        return LiveUpdate(
            final=final,
            partial=tuple(self.guess),
            ended=ended,
            heard=self.heard,
            language=self.requested_language or self.language,
        )


def _last_speech_end(samples: npt.NDArray[np.float32]) -> int | None:
    """Where the last stretch of speech ends, in samples; None when there is no speech."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if len(samples) < SAMPLE_RATE // 4:
        return None
    options = VadOptions(min_silence_duration_ms=100, speech_pad_ms=100)
    found = get_speech_timestamps(samples, options)
    return int(found[-1]["end"]) if found else None


def _loud_until(samples: npt.NDArray[np.float32]) -> int | None:
    """Where the last 20 ms frame loud enough to be speech ends; None when none is."""
    count = len(samples) // _FRAME
    if count == 0:
        return None
    frames = samples[len(samples) - count * _FRAME :].reshape(count, _FRAME)
    loud = np.flatnonzero(np.sqrt(np.mean(frames**2, axis=1)) >= _QUIET_RMS)
    return None if len(loud) == 0 else len(samples) - (count - 1 - int(loud[-1])) * _FRAME


def _normal(word: str) -> str:
    return re.sub(r"[^\w]", "", word.lower())


def _agreed(previous: list[Word], current: list[Word], previous_until: float) -> list[Word]:
    """LocalAgreement-2: the longest start of ``current`` that the previous pass also heard.

    A word the previous pass heard at the very end of its audio may have been cut off there
    ("ill" of "ill-disposed"): it does not count as heard.
    """
    whole = [word for word in previous if word.end <= previous_until - _CUT_OFF]
    count = 0
    for before, now in zip(whole, current, strict=False):
        if _normal(before.text) != _normal(now.text):
            break
        count += 1
    return current[:count]


def _keeping(guess: list[Word], words: list[Word]) -> list[Word]:
    """``words`` and the words the last pass heard after them.

    Whisper may stop short of the audio's end, the more so after a pause ("4" for "4, queen of
    clubs" after "4" became final). The words after that, which the previous pass did hear,
    would be lost: the pass may be the last of its utterance, whose words all become final.
    """
    end = words[-1].end if words else -1.0
    later = [word for word in guess if word.start >= end]
    if words and later and _normal(later[0].text) == _normal(words[-1].text):
        later = later[1:]
    return words + later


def _after(final: list[Word], words: list[Word]) -> list[Word]:
    """``words`` timed no earlier than the last final word's end: aligned in a longer context,
    a word's edges can shift a little, and times must not go back. (A word aligned wholly
    before it is still said: it comes after the prefix; it just has no length of its own.)"""
    if not final:
        return words
    floor = final[-1].end
    return [dataclasses.replace(w, start=max(w.start, floor), end=max(w.end, floor)) for w in words]


def _without_overlap(final: list[Word], words: list[Word]) -> list[Word]:
    """``words`` without the final words a pass heard again at its start: the first pass of an
    utterance may hear the end of the last one (cuts are not exact)."""
    if not final or not words or words[0].start > final[-1].end + 1.0:
        return words
    for size in range(min(_OVERLAP_WORDS, len(final), len(words)), 0, -1):
        tail = [_normal(word.text) for word in final[-size:]]
        if tail == [_normal(word.text) for word in words[:size]]:
            return words[size:]
    return words


class LiveTranscriber:
    """One live stream of speech. ``feed`` blocks as they come; ``finish`` at the end.

    Calls must not overlap (await each); ``transcribe_live`` drives one from an audio source.
    """

    def __init__(
        self,
        recognizer: WordRecognizer,
        *,
        language: str | None = None,
        options: StreamOptions | None = None,
    ) -> None:
        self._recognizer = recognizer
        self._stream = _Stream(recognizer, split_language(language), options or StreamOptions())
        self._started = time.perf_counter()

    @property
    def cost(self) -> StreamCost:
        return self._stream.cost

    @property
    def heard(self) -> float:
        """Seconds of audio received so far."""
        return self._stream.heard

    async def feed(self, audio: Pcm) -> LiveUpdate | None:
        """Take ``audio``; once enough is new, run a pass (in a worker thread): what it found."""
        if audio.sample_rate != SAMPLE_RATE:
            raise TranscriptionError(
                f"Live transcription takes {SAMPLE_RATE} Hz audio, not {audio.sample_rate} Hz."
            )
        self._stream.append(audio.as_float32())
        if not self._stream.due:
            return None
        return await run_blocking(lambda _cancelled, _report: self._stream.process())

    async def finish(self) -> LiveUpdate:
        """The end of the stream: what is left is heard once more and becomes final."""
        return await run_blocking(lambda _cancelled, _report: self._stream.process(flush=True))

    def transcript(self) -> Transcript:
        """Everything final so far, one segment per utterance."""
        stream = self._stream
        segments = list(stream.utterances)
        if stream.open_words:
            words = stream.open_words
            segments.append(Segment(words[0].start, words[-1].end, join_words(words)))
        return Transcript(
            text=join_words(segment.text for segment in segments),
            language=stream.requested_language or stream.language,
            engine=self._recognizer.name,
            model=self._recognizer.model_name,
            timings=Timings(stream.heard, time.perf_counter() - self._started),
            segments=tuple(segments),
        )


@dataclass(frozen=True)
class _Translating:
    """Whisper's translate task as a stream's recognizer: English words, whatever is spoken."""

    whisper: WhisperTranscriber

    @property
    def name(self) -> str:
        return self.whisper.name

    @property
    def model_name(self) -> str:
        return self.whisper.model_name

    def recognize_words(
        self,
        samples: npt.NDArray[np.float32],
        language: str | None,
        prompt: str = "",
        *,
        prefix: str = "",
    ) -> tuple[list[Word], str | None]:
        return self.whisper.recognize_words(
            samples, language, prompt, task="translate", prefix=prefix
        )


def live_transcriber(
    engine: object,
    *,
    language: str | None = None,
    options: StreamOptions | None = None,
    translate: bool = False,
) -> LiveTranscriber:
    """A live stream on ``engine``; only Whisper gives the word times live transcription needs.

    ``translate``: English words, whatever language is spoken."""
    if not isinstance(engine, WhisperTranscriber):
        name = getattr(engine, "name", "this engine")
        raise TranscriptionError(
            f"Live text needs the whisper engine, not {name}.",
            hint="Choose whisper, or transcribe the recording after it ends.",
        )
    recognizer: WordRecognizer = _Translating(engine) if translate else engine
    return LiveTranscriber(recognizer, language=language, options=options)


async def transcribe_live(
    blocks: AsyncIterable[Pcm], transcriber: LiveTranscriber
) -> AsyncIterator[LiveUpdate]:
    """Updates for audio from ``blocks`` until it ends, then the final update (``finish``).

    Blocks are read while a pass runs; the next pass takes all of them, so a slow pass makes
    the next one longer rather than the text later and later.
    """
    arrived: list[Pcm] = []
    woken = asyncio.Event()

    async def read() -> None:
        try:
            async for block in blocks:
                arrived.append(block)
                woken.set()
        finally:
            woken.set()

    reader = asyncio.create_task(read())
    try:
        while True:
            await woken.wait()
            woken.clear()
            ended = reader.done()
            taken = arrived[:]
            arrived.clear()
            if taken and (update := await transcriber.feed(Pcm.concatenate(taken))):
                yield update
            if ended and not arrived:
                break
        reader.result()  # the source's own failure (a microphone that went away) is raised
        yield await transcriber.finish()
    finally:
        reader.cancel()
