"""Speech-to-text benchmark: every offline engine over the corpus, side by side.

    python -m bench.stt [--json bench/results/stt.json]

Every Whisper model installed here is measured: the bundled ones and any downloaded with
``voxdesk models download``. Each engine runs in its own process so its peak memory is its own.
Reported per engine: WER on the English clips (after normalising case, punctuation, hyphens and
numerals), WER on the Russian clips, model load time, real-time factor after loading (short
clips, and ~50 s of speech through the long-audio path), the same two with word timestamps (the
JSON export, subtitles cut at words and the editor ask for them) and peak RSS (before the
word-timing model loads). SpeechRecognition's own ``recognize_sphinx`` runs in the same table
as the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

BASELINES = ["sphinx", "speech_recognition.recognize_sphinx"]
DEFAULT = "whisper:base"
RESULTS = Path(__file__).parent / "results" / "stt.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=RESULTS, help="Where to write the results.")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(asyncio.run(measure(args.worker))))
        return
    rows = [run_worker(engine) for engine in engines()]
    report(rows, args.json)


def engines() -> list[str]:
    """The default model first, then every other installed one, then the baselines."""
    from voxdesk.core.models.overview import overview

    models = [f"whisper:{row.name}" for row in overview()
              if row.kind == "whisper" and row.status != "downloadable"]  # fmt: skip
    return sorted(models, key=lambda engine: engine != DEFAULT) + BASELINES


def run_worker(engine: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.stt", "--worker", engine],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


async def measure(engine: str) -> dict[str, Any]:
    from bench.scoring import error_counts
    from tests.conftest import corpus_clips, russian_clips
    from tests.core.test_whisper import long_audio, long_reference

    transcribe, load_seconds, languages = await prepare(engine)
    english = [clip for clip in corpus_clips() if clip.language == "en"]
    en_errors, en_words, en_audio, en_time = await score(transcribe, english, "en")
    row: dict[str, Any] = {
        "engine": engine,
        "load_seconds": round(load_seconds, 2),
        "english_wer": en_errors / en_words,
        "english_errors": f"{en_errors}/{en_words}",
        "rtf_short_clips": en_time / en_audio,
    }
    audio = await long_audio()
    started = time.perf_counter()
    heard = await transcribe(audio, None)
    row["rtf_long_audio"] = (time.perf_counter() - started) / audio.duration
    row["long_audio_wer"] = error_counts(long_reference(), heard)[0] / len(long_reference().split())
    if "ru" in languages:
        ru_errors, ru_words, _, _ = await score(transcribe, russian_clips(), "ru")
        row["russian_wer"] = ru_errors / ru_words
    row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if engine.startswith("whisper:"):
        row |= await word_timing_cost(engine.split(":", 1)[1], english, audio)
    return row


async def word_timing_cost(model: str, clips: list[Any], audio: Any) -> dict[str, float]:
    """Real-time factors with a time for every word, on the short clips and the long audio."""
    from voxdesk.core.stt.whisper import WhisperTranscriber

    whisper = WhisperTranscriber(model, word_timestamps=True)
    await whisper.load()
    await whisper.transcribe(await clips[0].decode())  # one-off set-up (its VAD) not counted

    async def with_words(pcm: Any, language: str | None) -> str:
        transcript = await whisper.transcribe(pcm, language=language)
        assert all(segment.words for segment in transcript.segments if segment.text.strip())
        return transcript.text

    _, _, clips_audio, clips_time = await score(with_words, clips, "en")
    started = time.perf_counter()
    await with_words(audio, None)
    return {"rtf_short_clips_words": clips_time / clips_audio,
            "rtf_long_audio_words": (time.perf_counter() - started) / audio.duration}  # fmt: skip


async def score(transcribe: Any, clips: list[Any], language: str) -> tuple[int, int, float, float]:
    from bench.scoring import error_counts

    errors = words = 0
    audio_seconds = busy = 0.0
    for clip in clips:
        audio = await clip.decode()
        started = time.perf_counter()
        text = await transcribe(audio, language if language != "en" else None)
        busy += time.perf_counter() - started
        audio_seconds += audio.duration
        found, total = error_counts(clip.reference, text, language)
        errors, words = errors + found, words + total
    return errors, words, audio_seconds, busy


async def prepare(engine: str) -> tuple[Any, float, set[str]]:
    """A transcribe(audio, language) -> text function, its load time, and its languages."""
    if engine.startswith("whisper:"):
        from voxdesk.core.stt.whisper import WhisperTranscriber
        from voxdesk.core.stt.whisper_models import locate_model

        model = engine.split(":", 1)[1]
        locate_model(model)  # joins split models into the cache once; not part of loading
        whisper = WhisperTranscriber(model)
        await whisper.load()

        async def with_whisper(audio: Any, language: str | None) -> str:
            return (await whisper.transcribe(audio, language=language)).text

        languages = {"en"} if model.endswith(".en") else {"en", "ru"}
        return with_whisper, whisper.load_seconds, languages
    if engine == "sphinx":
        from voxdesk.core.stt.sphinx import SphinxTranscriber

        sphinx = SphinxTranscriber()

        async def with_sphinx(audio: Any, language: str | None) -> str:
            return (await sphinx.transcribe(audio, language=language)).text

        return with_sphinx, 0.0, {"en"}
    import speech_recognition as sr

    recognizer = sr.Recognizer()

    async def with_speech_recognition(audio: Any, language: str | None) -> str:
        def recognize() -> str:
            data = sr.AudioData(audio.data, audio.sample_rate, 2)
            try:
                return str(recognizer.recognize_sphinx(data))
            except sr.UnknownValueError:
                return ""

        return await asyncio.to_thread(recognize)

    return with_speech_recognition, 0.0, {"en"}


def report(rows: list[dict[str, Any]], path: Path) -> None:
    console = Console(width=160)
    table = Table(title="Speech to text on the corpus (2 CPU cores)")
    columns = ["engine", "English WER", "errors", "Russian WER", "load s", "RTF clips",
               "RTF long", "RTF clips +words", "RTF long +words", "long WER",
               "peak RSS MB"]  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column == "engine" else "right")
    for row in rows:
        russian = f"{row['russian_wer']:.1%}" if "russian_wer" in row else "-"
        table.add_row(
            row["engine"], f"{row['english_wer']:.1%}", row["english_errors"], russian,
            f"{row['load_seconds']:.2f}", f"{row['rtf_short_clips']:.3f}",
            f"{row['rtf_long_audio']:.3f}", _optional(row, "rtf_short_clips_words"),
            _optional(row, "rtf_long_audio_words"), f"{row['long_audio_wer']:.1%}",
            f"{row['peak_rss_mb']:.0f}",
        )  # fmt: skip
    console.print(table)
    console.print(f"Load average (1, 5, 15 min) at the end: {os.getloadavg()}")
    targets = check_targets(rows)
    for name, (ok, detail) in targets.items():
        console.print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"rows": rows, "targets": targets}, indent=2) + "\n")
    console.print(f"Wrote {path}")


def _optional(row: dict[str, Any], key: str) -> str:
    return f"{row[key]:.3f}" if key in row else "-"


def check_targets(rows: list[dict[str, Any]]) -> dict[str, tuple[bool, str]]:
    by_engine = {row["engine"]: row for row in rows}
    default, baseline = by_engine[DEFAULT], by_engine["speech_recognition.recognize_sphinx"]
    ratio = baseline["english_wer"] / max(default["english_wer"], 1e-9)
    return {
        "default WER <= 6% (English)": (default["english_wer"] <= 0.06,
                                        f"{default['english_wer']:.1%}"),
        "at least 2x lower than recognize_sphinx": (ratio >= 2, f"{ratio:.1f}x"),
        "RTF <= 0.2 after load": (default["rtf_short_clips"] <= 0.2,
                                  f"{default['rtf_short_clips']:.3f} clips, "
                                  f"{default['rtf_long_audio']:.3f} long"),
        "model load < 2 s": (default["load_seconds"] < 2, f"{default['load_seconds']:.2f} s"),
        "Russian transcribed offline": ("russian_wer" in default,
                                        f"WER {default.get('russian_wer', 1):.1%}"),
    }  # fmt: skip


if __name__ == "__main__":
    main()
