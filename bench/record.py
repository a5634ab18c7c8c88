"""The Record page's live transcription on a 5-minute take, against what it replaced.

    python -m bench.record [--seconds 300] [--json bench/results/record.json]

The take is the English corpus clips over and over, with pauses of 0.6 to 2 s between them, as
someone dictating would leave. Three runs on Whisper base, in one process, each timed with the
process's CPU clock (both cores count):

- live: the take played in real time (100 ms blocks, as the microphone gives them) through the
  streaming engine, as the Record page does. A word's latency is the time from the moment it
  was said (its end, on the stream's clock) to the first update showing it, partial or final:
  the same word, within half a second of where it ended up.
- offline: one pass over the whole take, as ``voxdesk transcribe`` does.
- re-transcription, the Record page before: the take so far transcribed again whenever 4 s more
  were recorded and the last pass was done, then the whole take after Stop. Simulated on a
  clock that moves with the audio and with each pass's own duration, so it costs its real CPU
  time without waiting for the audio to play.

Targets: partial words shown <= 2 s after they are said (p95); live CPU <= 1.5x one offline pass.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from bench.scoring import error_counts
from tests.conftest import corpus_clips
from voxdesk.core.audio import FileSource, Pcm
from voxdesk.core.stt.base import Word
from voxdesk.core.stt.streaming import LiveTranscriber, StreamOptions, transcribe_live
from voxdesk.core.stt.whisper import WhisperTranscriber

RESULTS = Path(__file__).parent / "results" / "record.json"
PAUSES = (0.6, 1.0, 1.5, 2.0)  # seconds between clips, in turn
BLOCK = 0.1
OLD_EVERY = 4.0  # the Record page re-transcribed the take so far this often
LATENCY_P95_LIMIT = 2.0
CPU_LIMIT = 1.5  # live CPU over one offline pass


@dataclass
class Shown:
    at: float  # wall clock (perf_counter)
    words: tuple[Word, ...]  # every word on screen after this update, final and partial


async def build_take(seconds: float) -> tuple[Pcm, str]:
    english = [clip for clip in corpus_clips() if clip.language == "en"]
    decoded = [await clip.decode() for clip in english]
    parts: list[Pcm] = []
    said: list[str] = []
    total = 0.0
    index = 0
    while total < seconds:
        audio = decoded[index % len(decoded)]
        pause = Pcm(bytes(int(PAUSES[index % len(PAUSES)] * 16_000) * 2))
        parts += [audio, pause]
        said.append(english[index % len(english)].reference)
        total += audio.duration + pause.duration
        index += 1
    return Pcm.concatenate(parts), " ".join(said)


async def live(
    whisper: WhisperTranscriber, take: Pcm, reference: str, options: StreamOptions
) -> dict[str, Any]:
    stream = LiveTranscriber(whisper, language="en", options=options)
    source = FileSource(take, realtime=True, block_seconds=BLOCK)
    shown: list[Shown] = []
    final: list[Word] = []
    first_block: list[float] = []

    async def blocks() -> Any:
        async for block in source.blocks():
            if not first_block:
                first_block.append(time.perf_counter())
            yield block

    cpu = time.process_time()
    async for update in transcribe_live(blocks(), stream):
        final += update.final
        shown.append(Shown(time.perf_counter(), (*final, *update.partial)))
    cpu = time.process_time() - cpu
    # A microphone hands over a block once it has been said: block one at BLOCK seconds.
    said_at = first_block[0] - BLOCK
    latencies = [first_shown(word, shown) - (said_at + word.end) for word in final]
    text = stream.transcript().text
    return {
        "cpu_seconds": cpu,
        "wer": wer(reference, text),
        "latency_p50": float(np.percentile(latencies, 50)),
        "latency_p95": float(np.percentile(latencies, 95)),
        "latency_max": max(latencies),
        "passes": stream.cost.passes,
        "audio_read_per_second": stream.cost.samples_recognized / take.frame_count,
        "text": text,  # to see which words a WER change is made of
    }


def first_shown(word: Word, shown: list[Shown]) -> float:
    for update in shown:
        if any(same(word, seen) for seen in update.words):
            return update.at
    raise AssertionError(f"{word} was never shown")


def same(word: Word, seen: Word) -> bool:
    return normal(word.text) == normal(seen.text) and abs(word.end - seen.end) <= 0.5


def normal(text: str) -> str:
    return re.sub(r"\W", "", text.lower())


def wer(reference: str, text: str) -> float:
    found, total = error_counts(reference, text, "en")
    return found / total


async def offline(whisper: WhisperTranscriber, take: Pcm, reference: str) -> dict[str, Any]:
    cpu = time.process_time()
    transcript = await whisper.transcribe(take, language="en")
    cpu = time.process_time() - cpu
    return {"cpu_seconds": cpu, "wer": wer(reference, transcript.text), "text": transcript.text}


async def retranscription(whisper: WhisperTranscriber, take: Pcm) -> dict[str, Any]:
    """The old Record page, on a simulated clock: passes over the take so far, then one more."""
    clock = 0.0  # seconds since recording started
    next_pass = OLD_EVERY
    passes = 0
    cpu = time.process_time()
    while True:
        clock = max(clock, next_pass)
        if clock >= take.duration:
            break
        started = time.perf_counter()
        await whisper.transcribe(take.slice(0, clock), language="en")
        passes += 1
        next_pass = clock + OLD_EVERY
        clock += time.perf_counter() - started
    await whisper.transcribe(take, language="en")  # after Stop
    return {"cpu_seconds": time.process_time() - cpu, "passes": passes + 1}


async def measure(seconds: float, options: StreamOptions) -> dict[str, Any]:
    whisper = WhisperTranscriber("base")
    await whisper.load()
    take, reference = await build_take(seconds)
    return {
        "take_seconds": take.duration,
        "min_chunk": options.min_chunk,
        "live": await live(whisper, take, reference, options),
        "offline": await offline(whisper, take, reference),
        "retranscription": await retranscription(whisper, take),
    }


def report(results: dict[str, Any], path: Path) -> None:
    console = Console(width=120)
    live, offline, old = results["live"], results["offline"], results["retranscription"]
    title = f"Record page on a {results['take_seconds']:.0f} s take (Whisper base, 2 cores)"
    table = Table(title=f"{title}, a pass per {results['min_chunk']:g} s of new audio")
    for column in ("run", "CPU s", "x offline", "WER", "latency p50 / p95 / max", "passes"):
        table.add_column(column, justify="left" if column == "run" else "right")
    ratio = live["cpu_seconds"] / offline["cpu_seconds"]
    latency = f"{live['latency_p50']:.2f} / {live['latency_p95']:.2f} / {live['latency_max']:.2f} s"
    table.add_row("live (streaming)", f"{live['cpu_seconds']:.1f}", f"{ratio:.2f}",
                  f"{live['wer']:.1%}", latency, str(live["passes"]))  # fmt: skip
    table.add_row("offline, one pass", f"{offline['cpu_seconds']:.1f}", "1.00",
                  f"{offline['wer']:.1%}", "after the take", "1")  # fmt: skip
    old_ratio = old["cpu_seconds"] / offline["cpu_seconds"]
    table.add_row("re-transcribe every 4 s (before)", f"{old['cpu_seconds']:.1f}",
                  f"{old_ratio:.2f}", "-", "4 s and more", str(old["passes"]))  # fmt: skip
    console.print(table)
    console.print(f"Live passes read {live['audio_read_per_second']:.2f} s of audio per second.")
    targets = {
        f"partial words shown <= {LATENCY_P95_LIMIT:g} s after said (p95)": (
            live["latency_p95"] <= LATENCY_P95_LIMIT,
            f"{live['latency_p95']:.2f} s",
        ),
        f"live CPU <= {CPU_LIMIT:g}x one offline pass": (ratio <= CPU_LIMIT, f"{ratio:.2f}x"),
    }
    for name, (ok, detail) in targets.items():
        console.print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**results, "targets": targets}, indent=2) + "\n")
    console.print(f"Wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="Length of the take.")
    parser.add_argument(
        "--min-chunk", type=float, default=StreamOptions.min_chunk, help="Seconds between passes."
    )
    parser.add_argument("--json", type=Path, default=RESULTS, help="Where to write the results.")
    args = parser.parse_args()
    report(asyncio.run(measure(args.seconds, StreamOptions(min_chunk=args.min_chunk))), args.json)


if __name__ == "__main__":
    main()
