"""The offline default: Whisper through faster-whisper (CTranslate2), with no network.

Short clips (voice messages, the common case) take a fast path: Whisper pads every window to
30 s, so a 3 s clip would pay for 30 s of encoder work. Here it is encoded at its own length plus
5 s of silence, which is several times faster and, measured on the corpus, as accurate (see
bench/stt.py). Longer audio goes through faster-whisper's own 30 s sliding window, one segment
at a time, with progress and cancellation between segments.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import time
import weakref
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from voxdesk.core.audio.pcm import Pcm
from voxdesk.core.stt.base import (
    EngineUnavailable,
    ProgressCallback,
    Segment,
    Timings,
    Transcript,
    Word,
    join_words,
    split_language,
    word_gap,
)
from voxdesk.core.stt.whisper_models import ModelLocation, locate_model
from voxdesk.core.work import check_cancelled, run_blocking

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

log = logging.getLogger(__name__)

SHORT_CLIP_SECONDS = 25.0
_PAD_FRAMES = 500  # 5 s of silence after a short clip: less made the model repeat itself
_MAX_FRAMES = 3000  # Whisper's 30 s window, in 10 ms feature frames
_SECONDS_PER_TIMESTAMP = 0.02
_BEAM_SIZE = 5
# The no-speech rule of Whisper and faster-whisper: drop text the model doubts is speech.
_NO_SPEECH_PROBABILITY = 0.6
_LOW_LOG_PROBABILITY = -1.0
# Text that compresses this well is a repetition loop; faster-whisper's decoder then retries.
_MAX_COMPRESSION_RATIO = 2.4
# faster-whisper's defaults: punctuation joins the word it follows or precedes.
_PREPEND_PUNCTUATION = "\"'“¿([{-"
_APPEND_PUNCTUATION = "\"'.。,，!！?？:：”)]}、"
_PROMPT_TOKENS = 100  # of the text before a streaming pass, as context (Whisper allows 223)
# More than anyone says in a second, in any script (3 words of up to 8 tokens; English takes
# 1 or 2): a streaming pass stops there. Its audio is short, and the model may repeat itself
# until stopped; a pass that ran to the decoder's limit cost as much as twenty.
_TOKENS_PER_SECOND = 25
# What speech rarely goes past (English takes 3 or 4 tokens a second): a streaming pass first
# decodes this far, and goes on to the limit above only when what it heard is no loop.
_USUAL_TOKENS_PER_SECOND = 10
_LOOP_TOKENS = 8  # a block said over and over for this many tokens, at least twice, is a loop
# Punctuation that may close the text of a streaming pass's prefix: it comes on its own.
_AFTER_PREFIX = frozenset(".,!?:;。，！？：、")

Task = Literal["transcribe", "translate"]  # Whisper's two tasks: translate is into English


class WhisperTranscriber:
    """Whisper on the CPU. The model loads on first use (or ``load()``) and is kept."""

    def __init__(
        self,
        model: str = "base",
        *,
        threads: int = 0,
        cache_dir: Path | None = None,
        word_timestamps: bool = False,
    ):
        self._model_name = model
        # Words with times and probabilities (the transcript editor, subtitles cut between
        # words), from the cross-attention of the decoded tokens over the audio.
        self._word_timestamps = word_timestamps
        self._threads = threads or os.cpu_count() or 1
        self._cache_dir = cache_dir
        self._location: ModelLocation | None = None
        self._model: WhisperModel | None = None
        self._load_lock = threading.Lock()
        self.load_seconds = 0.0

    @property
    def name(self) -> str:
        return "whisper"

    @property
    def model_name(self) -> str:
        return self._location.name if self._location else self._model_name

    async def load(self) -> None:
        def load(_cancelled: threading.Event, _report: ProgressCallback) -> None:
            self._loaded()  # not returned: a finished future would keep the model alive

        await run_blocking(load)

    async def transcribe(
        self,
        audio: Pcm,
        *,
        language: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transcript:
        return await self._transcribe(audio, language, progress, "transcribe")

    async def translate(
        self,
        audio: Pcm,
        *,
        language: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transcript:
        """English text of speech in ``language`` (None: detected), any of Whisper's languages."""
        return await self._transcribe(audio, language, progress, "translate")

    async def _transcribe(
        self, audio: Pcm, language: str | None, progress: ProgressCallback | None, task: Task
    ) -> Transcript:
        started = time.perf_counter()
        segments, detected = await run_blocking(
            lambda cancelled, report: self._run(
                audio, split_language(language), task, cancelled, report
            ),
            progress,
        )
        timings = Timings(
            audio_seconds=audio.duration,
            transcribe_seconds=time.perf_counter() - started,
            load_seconds=self.load_seconds,
        )
        return Transcript(
            text=join_words(segment.text for segment in segments),
            language=detected,
            engine=self.name,
            model=self.model_name,
            timings=timings,
            segments=tuple(segments),
        )

    def _loaded(self) -> WhisperModel:
        with self._load_lock:
            if self._model is None:
                started = time.perf_counter()
                self._location = locate_model(self._model_name, self._cache_dir)
                self._model = _shared_model(self._location.path, self._threads)
                _load_voice_activity()
                self.load_seconds = time.perf_counter() - started
                log.info("Loaded Whisper %s in %.2f s", self._location.name, self.load_seconds)
            return self._model

    def _run(
        self,
        audio: Pcm,
        language: str | None,
        task: Task,
        cancelled: threading.Event,
        report: ProgressCallback,
    ) -> tuple[list[Segment], str | None]:
        model = self._loaded()
        language = self._usable_language(language, task)
        samples = audio.as_float32()
        if not _has_speech(samples):
            report(1.0)
            return [], language  # silence or noise: Whisper would invent words
        result = None
        if audio.duration <= SHORT_CLIP_SECONDS:
            result = _transcribe_clip(model, samples, language, task, self._word_timestamps)
        if result is None:
            result = _transcribe_long(
                model, samples, language, task, cancelled, report, self._word_timestamps
            )
        report(1.0)
        return result

    def recognize_words(
        self,
        samples: npt.NDArray[np.float32],
        language: str | None,
        prompt: str = "",
        task: Task = "transcribe",
        prefix: str = "",
    ) -> tuple[list[Word], str | None]:
        """Words with their times in at most 30 s of audio: one greedy pass, no fallback.

        Blocking (call it in a worker thread). This is the streaming engine's pass: cheap, because
        it runs again a second later on the same words. ``prompt`` is the text before the audio;
        ``prefix`` the text already known of the audio's start, which the pass takes as said and
        continues: only the words after it are returned.
        """
        model = self._loaded()
        language = self._usable_language(split_language(language), task)
        if not len(samples):
            return [], language
        return _recognize_words(model, samples, language, prompt, task, prefix)

    def _usable_language(self, language: str | None, task: Task = "transcribe") -> str | None:
        assert self._location is not None
        if not self._location.english_only:
            return language
        if task == "translate":  # the .en models were trained without the translate task
            raise EngineUnavailable(
                f"The Whisper {self._location.name} model knows English only: it cannot translate.",
                hint="Choose a multilingual model such as 'base' (speech.whisper_model).",
            )
        if language not in (None, "en"):
            raise EngineUnavailable(
                f"The Whisper {self._location.name} model knows English only, not '{language}'.",
                hint="Use the multilingual 'base' model (speech.whisper_model).",
            )
        return "en"


_models: weakref.WeakValueDictionary[tuple[Path, int], WhisperModel] = weakref.WeakValueDictionary()
_models_lock = threading.Lock()


def _shared_model(path: Path, threads: int) -> WhisperModel:
    """The model in ``path``, loaded once for the process while any transcriber holds it.

    The bot's transcriber and the Record page's (which times words) each loaded their own copy:
    250 MB each, and each load froze the window for 130-150 ms (the tokenizers library parses
    the model's tokenizer.json holding the GIL). CTranslate2 models take calls from several
    threads, one at a time, as the speakers of a voice channel already share one.
    """
    with _models_lock:
        model = _models.get((path, threads))
        if model is None:
            model = _models[(path, threads)] = _load_model(path, threads)
        return model


def _load_model(path: Path, threads: int) -> WhisperModel:
    try:
        from faster_whisper import WhisperModel
    except ImportError as error:
        raise EngineUnavailable(
            "The offline Whisper engine needs faster-whisper.",
            hint="pip install faster-whisper",
        ) from error
    try:
        model = WhisperModel(
            str(path), device="cpu", compute_type="int8", cpu_threads=threads, local_files_only=True
        )
        if threads > 1:
            model.model = _EncoderOnEveryCore(model.model, _one_core_copy(path))
    except (RuntimeError, ValueError, OSError) as error:
        raise EngineUnavailable(
            f"The Whisper model in {path} cannot be loaded: {error}.",
            hint="Point speech.whisper_model at a CTranslate2 Whisper model folder.",
        ) from error
    _keep_blas_to_one_thread()
    return model


class _EncoderOnEveryCore:
    """CTranslate2's Whisper with its encoder on every core given and its decoder on one.

    Measured on 2 cores with base: the encoder of a 30 s window takes 544 ms on two threads
    and 988 on one, for the same CPU; but beam search over it takes 1660 ms on two threads and
    1183 on one, at 2055 CPU ms against 1182. A decoding step is too small to share: the second
    thread's waiting costs more than its work. Live transcription of a 2-minute take went from
    44 to 33 CPU s; a 60 s file from 8.5 to 6.3 CPU s and 6.5 to 5.1 s. CTranslate2 sets
    threads per model, so the weights are loaded twice (resident memory +100 MB).
    """

    def __init__(self, encoder: Any, decoder: Any) -> None:
        self._encoder = encoder
        self._decoder = decoder

    def encode(self, *args: Any, **kwargs: Any) -> Any:
        return self._encoder.encode(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:  # generate, align, detect_language and the rest
        return getattr(self._decoder, name)


def _one_core_copy(path: Path) -> Any:
    import ctranslate2

    return ctranslate2.models.Whisper(str(path), device="cpu", compute_type="int8", intra_threads=1)


def _keep_blas_to_one_thread() -> None:
    """numpy's BLAS runs on the calling thread only, for the whole process.

    The mel filterbank of every pass is a small numpy matrix product: OpenBLAS split it over
    every core, and its threads then spun, waiting for more work, on the cores CTranslate2's
    encoder was using. Measured on 2 cores, a streaming pass's encoder cost 224 CPU ms (123 ms
    of wall time) instead of 128 (71 ms); a 5-minute live take 114 CPU s instead of 94.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


def _load_voice_activity() -> None:
    """Silero's voice activity model (every transcription asks it first), made with the Whisper
    model: made by the first pass, it imported onnxruntime there, whose native start-up holds
    the GIL for some 200 ms, and a voice channel's event loop stalled at its first caption."""
    from faster_whisper.vad import get_vad_model

    get_vad_model()  # kept by faster-whisper for the process


def _has_speech(samples: npt.NDArray[np.float32]) -> bool:
    """Silero VAD (shipped inside faster-whisper) finds at least one stretch of speech."""
    from faster_whisper.vad import get_speech_timestamps

    return bool(get_speech_timestamps(samples))


def _transcribe_clip(
    model: WhisperModel,
    samples: npt.NDArray[np.float32],
    language: str | None,
    task: Task,
    word_timestamps: bool = False,
) -> tuple[list[Segment], str | None] | None:
    """One window encoded at the clip's own length; None when the result is unreliable."""
    from faster_whisper.tokenizer import Tokenizer

    encoded, window, frames = _encode(model, samples)
    language = language or _detect_language(model, encoded)
    tokenizer = Tokenizer(
        model.hf_tokenizer, model.model.is_multilingual, task=task, language=language
    )
    result = model.model.generate(
        encoded,
        [tokenizer.sot_sequence],
        beam_size=_BEAM_SIZE,
        max_length=min(448, window // 2),
        return_scores=True,
        return_no_speech_prob=True,
        suppress_blank=True,
        suppress_tokens=[-1, *tokenizer.non_speech_tokens],
    )[0]
    if result.no_speech_prob > _NO_SPEECH_PROBABILITY and result.scores[0] < _LOW_LOG_PROBABILITY:
        return [], language
    duration = len(samples) / 16000
    pieces = _timestamped_pieces(result.sequences_ids[0], tokenizer, duration)
    text = " ".join(tokenizer.decode(piece["tokens"]) for piece in pieces)
    if _compression_ratio(text) > _MAX_COMPRESSION_RATIO:
        return None
    if word_timestamps and pieces:
        _time_words(model, tokenizer, pieces, encoded, frames)
    segments: list[Segment] = []
    for piece in pieces:
        words = _timed_words(
            (w["start"], w["end"], w["word"], w["probability"]) for w in piece.get("words", ())
        )
        _add_segment(
            segments, piece["start"], piece["end"], tokenizer.decode(piece["tokens"]), words
        )
    return segments, language


def _time_words(
    model: WhisperModel, tokenizer: Any, pieces: list[dict[str, Any]], encoded: Any, frames: int
) -> None:
    """Add faster-whisper's word times to ``pieces``, the way its own decoding does.

    The alignment heads' cross-attention is read over the clip's own frames only, the padding
    left out, just as faster-whisper leaves out the padding of its 30 s window.
    """
    model.add_word_timestamps(
        [pieces],
        tokenizer,
        encoded,
        frames,
        _PREPEND_PUNCTUATION,
        _APPEND_PUNCTUATION,
        last_speech_timestamp=0.0,
    )


def _encode(model: WhisperModel, samples: npt.NDArray[np.float32]) -> tuple[Any, int, int]:
    """The encoder's output for audio of at most 30 s, encoded at its own length plus padding.

    Returns the output, the window it was padded to and the audio's own frames (both in 10 ms
    feature frames).
    """
    import ctranslate2

    features = model.feature_extractor(samples)
    frames = min(features.shape[-1], _MAX_FRAMES)
    window = min(_MAX_FRAMES, math.ceil((frames + _PAD_FRAMES) / 100) * 100)
    padded = np.zeros((features.shape[0], window), dtype=np.float32)
    padded[:, :frames] = features[:, :frames]
    encoded = model.model.encode(ctranslate2.StorageView.from_array(padded[np.newaxis]))
    return encoded, window, frames


def _detect_language(model: WhisperModel, encoded: Any) -> str:
    return str(model.model.detect_language(encoded)[0][0][0]).strip("<|>")


def _recognize_words(
    model: WhisperModel,
    samples: npt.NDArray[np.float32],
    language: str | None,
    prompt: str,
    task: Task = "transcribe",
    prefix: str = "",
) -> tuple[list[Word], str | None]:
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import merge_punctuations

    encoded, _, frames = _encode(model, samples)
    language = language or _detect_language(model, encoded)
    tokenizer = Tokenizer(
        model.hf_tokenizer, model.model.is_multilingual, task=task, language=language
    )
    forced = tokenizer.encode(" " + prefix.strip()) if prefix else []
    tokens = _decode(model, encoded, tokenizer, prompt, forced, len(samples))
    if _echoes(tokens, tokenizer, prompt):
        # Where "And Mr. John Dashwood..." was said after "1, 2, 3.", the model said "1, 2, 3."
        # again, or over and over, pass after pass, until the utterance was lost: the audio is
        # heard again without the prompt, as faster-whisper does after a failure.
        tokens = _decode(model, encoded, tokenizer, "", forced, len(samples))
    if isinstance(tokens, str) or not tokens:
        return [], language
    duration = len(samples) / 16000
    # The forced words are aligned too: the words after them are timed in their context.
    (aligned,) = model.find_alignment(tokenizer, [forced + tokens], encoded, frames)
    # Punctuation as a word of its own would be spaced as one ("Mr . John"): it joins its
    # neighbour, by faster-whisper's own lists of what goes before and after a word.
    merge_punctuations(aligned, _PREPEND_PUNCTUATION, _APPEND_PUNCTUATION)
    aligned = _whole_words(_after_tokens(aligned, len(forced), tokenizer))
    words = [
        Word(
            float(min(item["start"], duration)),
            float(min(item["end"], duration)),
            item["word"].strip(),
            float(item["probability"]),
        )
        for item in aligned
        if item["word"].strip()
    ]
    # Words aligned to no time lie past the audio's end: the prompt's guess of what comes
    # next, not speech (seen when a phrase is said twice). Punctuation after the prefix has no
    # time of its own.
    return [w for w in words if w.end > w.start or w.text in _AFTER_PREFIX], language


def _decode(
    model: WhisperModel,
    encoded: Any,
    tokenizer: Any,
    prompt: str,
    forced: list[int],
    samples: int,
) -> list[int] | str:
    """The tokens heard after ``forced``, greedily ([] for no speech), or the text of a loop.

    Decoding first stops where speech of this length usually ends. A pass that gets there
    repeating itself is a loop, and ends; any other goes on from there, to the same words as if
    it had never stopped (greedy decoding is deterministic). Loops ran to the limit: 14 passes
    of a 5-minute take cost 13 CPU s, an eighth of the whole, for text that is thrown away.
    """
    context = tokenizer.encode(" " + prompt.strip())[-_PROMPT_TOKENS:] if prompt else []
    head = [tokenizer.sot_prev, *context] if context else []
    head += [*tokenizer.sot_sequence, tokenizer.no_timestamps]
    most = _tokens_in(samples, _TOKENS_PER_SECOND)
    usual = _tokens_in(samples, _USUAL_TOKENS_PER_SECOND)
    # Blank suppression holds back the end of the text at the first free step: right after a
    # forced prefix, it made the model say the prefix's words again when no more were said.
    result = _generate(model, encoded, tokenizer, head, forced, usual, suppress_blank=not forced)
    heard = result.sequences_ids[0][len(forced) :]
    stopped = len(heard) >= usual
    looping = stopped and _repeating(heard)
    if stopped and not looping:
        more = _generate(model, encoded, tokenizer, head, forced + heard, most - len(heard))
        heard = more.sequences_ids[0][len(forced) :]
    tokens = [token for token in heard if token < tokenizer.eot]
    doubted = result.no_speech_prob > _NO_SPEECH_PROBABILITY
    if not tokens or (doubted and result.scores[0] < _LOW_LOG_PROBABILITY):
        return []
    text = tokenizer.decode(tokens)
    return text if looping or _compression_ratio(text) > _MAX_COMPRESSION_RATIO else tokens


def _generate(
    model: WhisperModel,
    encoded: Any,
    tokenizer: Any,
    head: list[int],
    forced: list[int],
    most: int,
    suppress_blank: bool = False,
) -> Any:
    """One greedy decoding of at most ``most`` tokens after ``head`` and ``forced``.

    CTranslate2 returns the forced tokens too, counts ``head`` in ``max_length`` and returns
    at most half of ``max_length`` (measured, ctranslate2 4.8): a bare ``len(start) + most``
    stopped a pass without a prompt at about half its limit.
    """
    wanted = len(forced) + most
    return model.model.generate(
        encoded,
        [head + forced],
        beam_size=1,
        max_length=min(448, max(2 * wanted, len(head) + wanted - 1)),
        return_scores=True,
        return_no_speech_prob=True,
        suppress_blank=suppress_blank,
        suppress_tokens=[-1, *tokenizer.non_speech_tokens],
    )[0]


def _repeating(tokens: list[int]) -> bool:
    """The tokens end in one block said over and over: twice or more, and for 8 tokens or more
    ("He was not an ill-disposed young man." again and again; "4, 4, 4, 4, 4,")."""
    for period in range(1, len(tokens) // 2 + 1):
        run = 0
        while run < len(tokens) - period and tokens[-1 - run] == tokens[-1 - run - period]:
            run += 1
        if run >= max(period, _LOOP_TOKENS):
            return True
    return False


def _echoes(heard: list[int] | str, tokenizer: Any, prompt: str) -> bool:
    """The pass said the prompt's words again: a loop that starts with words of the prompt, or
    all it heard is the prompt's end. (A phrase really said twice is heard again without it.)"""
    if isinstance(heard, str):
        start = " ".join(heard.split()[:4])
        return bool(start) and start.lower() in prompt.lower()
    said = _plain_words(tokenizer.decode(heard))
    return bool(said) and _plain_words(prompt)[-len(said) :] == said


def _plain_words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _tokens_in(samples: int, per_second: int) -> int:
    """Tokens after its prefix for a pass over ``samples`` of audio, at ``per_second``."""
    return 4 + math.ceil(samples / 16_000 * per_second)


def _after_tokens(
    aligned: list[dict[str, Any]], count: int, tokenizer: Any
) -> list[dict[str, Any]]:
    """The aligned words after the first ``count`` tokens (the forced prefix).

    Punctuation heard right after the prefix was merged into its last word ("4" + ","): it is
    kept as a word of its own, timed at that word's end. (The rest of a word cut by the prefix,
    "wood" of "Dash", is not: the word before it is final, and must not change. A rest that
    starts with punctuation is a word of its own to the alignment: "-disposed" after "ill".)
    """
    kept, seen = [], 0
    for item in aligned:
        tokens = item["tokens"]
        if seen >= count:
            kept.append(item)
        elif seen + len(tokens) > count:
            text = tokenizer.decode(tokens[count - seen :])
            if text.strip() in _AFTER_PREFIX:
                kept.append({**item, "word": text, "tokens": tokens[count - seen :],
                             "start": item["end"]})  # fmt: skip
        seen += len(tokens)
    return kept


def _whole_words(aligned: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pieces the model wrote as one word, joined: "ill" + "-disposed", "1," + "000".

    The alignment starts a word at each punctuation token, so a hyphenated word came in two,
    shown "ill -disposed"; worse, "ill" could become final alone and its rest be lost. A piece
    that the model wrote with no space before it joins the word before, where the script is
    written with spaces (in Chinese every word comes without one).
    """
    whole: list[dict[str, Any]] = []
    for item in aligned:
        text = item["word"]
        if whole and text[:1].strip() and word_gap(whole[-1]["word"], text) == " ":
            last = whole[-1]
            whole[-1] = {**last, "word": last["word"] + text, "end": item["end"],
                         "tokens": last["tokens"] + item["tokens"],
                         "probability": min(last["probability"], item["probability"])}  # fmt: skip
        else:
            whole.append(item)
    return whole


def _compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def _timestamped_pieces(tokens: list[int], tokenizer: Any, duration: float) -> list[dict[str, Any]]:
    """Split generated tokens at Whisper's timestamp tokens into pieces with times, as the dicts
    faster-whisper's word timing takes."""
    pieces: list[dict[str, Any]] = []
    text_tokens: list[int] = []
    start = 0.0
    for token in tokens:
        if token < tokenizer.timestamp_begin:
            text_tokens.append(token)
            continue
        moment = min(duration, (token - tokenizer.timestamp_begin) * _SECONDS_PER_TIMESTAMP)
        if text_tokens:
            pieces.append({"seek": 0, "start": start, "end": moment, "tokens": text_tokens})
            text_tokens = []
        start = moment
    if text_tokens:
        pieces.append({"seek": 0, "start": start, "end": duration, "tokens": text_tokens})
    return pieces


def _add_segment(
    segments: list[Segment], start: float, end: float, text: str, words: tuple[Word, ...] = ()
) -> None:
    text = text.strip()
    if not text:
        return
    start = max(float(start), segments[-1].end if segments else 0.0)
    segments.append(Segment(_plain(start, 2), _plain(max(start, end), 2), text, words))


def _timed_words(items: Iterable[tuple[float, float, str, float]]) -> tuple[Word, ...]:
    """Words from faster-whisper's (start, end, text, probability), blank ones left out."""
    return tuple(
        Word(_plain(start, 2), _plain(end, 2), text.strip(), _plain(probability, 3))
        for start, end, text, probability in items
        if text.strip()
    )


def _plain(number: float, digits: int) -> float:
    """A Python float: faster-whisper's times and probabilities may be numpy numbers, which
    JSON cannot hold."""
    return round(float(number), digits)


def _transcribe_long(
    model: WhisperModel,
    samples: npt.NDArray[np.float32],
    language: str | None,
    task: Task,
    cancelled: threading.Event,
    report: ProgressCallback,
    word_timestamps: bool = False,
) -> tuple[list[Segment], str | None]:
    duration = len(samples) / 16000
    # Silence skipped (Silero voice activity): on a 5-minute take with pauses the plain pass
    # cost 72 to 95 CPU s, conditioned on its own hallucinations at times (24 % WER), and 32 s
    # with it, at 5 % WER either way.
    pieces, info = model.transcribe(
        samples,
        language=language,
        task=task,
        beam_size=_BEAM_SIZE,
        word_timestamps=word_timestamps,
        vad_filter=True,
    )
    segments: list[Segment] = []
    for piece in pieces:  # a generator: each step decodes the next window
        check_cancelled(cancelled)
        words = _timed_words((w.start, w.end, w.word, w.probability) for w in piece.words or ())
        _add_segment(segments, piece.start, piece.end, piece.text, words)
        report(piece.end / duration)
    return segments, info.language
