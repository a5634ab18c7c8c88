"""Voice channel benchmark: three members speaking, captioned live by the bot.

    python -m bench.voice [--minutes 10]

The real bot (discord.py's voice client with Voxdesk's receive layer, the streaming engine on
Whisper base) listens on the loopback Discord and its voice server (DAVE on). Three members
speak the English corpus clips in real time, each with a pause of 2-4 s between clips, for
``--minutes``. Measured: the time from the end of each utterance to its final caption reaching
Discord; the captions' word error rate beside the same clips (as often as they were said)
transcribed as files, both as Discord delivers them to the bot and as recorded (Opus alone turns
"ten of clubs" into "10 of clothes" for Whisper base, file or stream, greedy or beam); event-loop
lag; RSS growth from the end of the first minute (or a quarter of a shorter run) to the end;
CPU seconds per second of speech (the whole process: the fake servers' share is small: the Opus
frames are encoded before the session). Targets on 2 cores: final caption p95 <= 1.5 s; caption
WER <= 1.15 x the WER of the clips as received, transcribed as files; loop lag p99 < 16 ms; RSS
growth < 50 MB over 10 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import numpy as np
import psutil
import pytest
from discord.opus import Decoder
from rich.console import Console
from rich.table import Table

from bench.looplag import LoopLagMonitor
from bench.scoring import error_counts
from tests.bridge.voice_loopback import VoiceRunning, voice_bot
from tests.conftest import Clip, corpus_clips
from tests.fakes.discord_server import FakeDiscord, FakeUser
from tests.fakes.discord_voice import opus_frames
from voxdesk.bridge.voice.resample import Downsampler
from voxdesk.bridge.voice.session import ListeningSession
from voxdesk.core.audio.pcm import Pcm
from voxdesk.core.events import VoiceCaption
from voxdesk.core.startup import freeze_start_up_objects
from voxdesk.core.stt.whisper import WhisperTranscriber

RESULTS = Path(__file__).parent / "results" / "voxdesk.voice.json"
FRAME = 0.02


@dataclass
class Said:
    """One clip said by one member: when (session clock and wall clock) and what."""

    speaker: str
    clip: Clip
    start: float  # session seconds
    end: float
    ended_at: float  # perf_counter when its last frame was sent
    caption_at: float | None = None  # perf_counter when its last final caption arrived
    heard: list[str] = field(default_factory=list)


async def run(minutes: float) -> dict[str, Any]:
    clips = [c for c in corpus_clips() if c.language == "en"]
    frames = {c.path.name: opus_frames(await c.decode()) for c in clips}
    async with voice_bot(pytest.MonkeyPatch(), dave=True) as running:
        fake = running.discord
        people = {"alice": fake.trainer, "bob": fake.member, "carol": fake.moderator}
        session = await listen(running, list(people.values()))
        freeze_start_up_objects()  # as the headless bot does once logged in
        finals = running.services.events.subscribe(VoiceCaption, size=10_000)
        arrivals: list[tuple[float, dict[str, Any]]] = []
        stamper = asyncio.create_task(stamp(fake, arrivals))
        lag = LoopLagMonitor()
        lag.start()
        process = psutil.Process()
        cpu_before = process.cpu_times()
        deadline = time.perf_counter() + minutes * 60
        rss: list[float] = []
        sampler = asyncio.create_task(sample_rss(process, rss, deadline, minutes))
        said = await asyncio.gather(*(
            member(running, session, name, user, clips, frames, deadline, seed)
            for seed, (name, user) in enumerate(people.items())
        ))  # fmt: skip
        await asyncio.sleep(3)  # the last captions
        cpu_after = process.cpu_times()
        loop = await lag.stop()
        sampler.cancel()
        stamper.cancel()
        utterances = [s for per_member in said for s in per_member]
        captions = collect(finals)
        match_captions(utterances, arrivals, captions)
        whisper = running.services.speech.transcriber()
        assert isinstance(whisper, WhisperTranscriber)
        as_files = await file_texts(whisper, clips, frames)
    cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
    audio = sum(s.clip.duration for s in utterances)
    return {
        "minutes": minutes,
        "utterances": len(utterances),
        "audio_seconds": audio,
        "latencies": [s.caption_at - s.ended_at for s in utterances if s.caption_at],
        "missing_captions": sum(s.caption_at is None for s in utterances),
        "caption_wer": corpus_wer([(s.clip.reference, " ".join(s.heard)) for s in utterances]),
        "file_wer": corpus_wer(
            [(s.clip.reference, as_files[s.clip.path.name][0]) for s in utterances]
        ),
        "received_file_wer": corpus_wer(
            [(s.clip.reference, as_files[s.clip.path.name][1]) for s in utterances]
        ),
        "clips": [
            {
                "speaker": s.speaker,
                "at": [round(s.start, 2), round(s.end, 2)],
                "said": s.clip.reference,
                "heard": " ".join(s.heard),
                "latency": s.caption_at - s.ended_at if s.caption_at else None,
            }
            for s in utterances
        ],
        "captions": [
            [c.speaker_name, round(c.start, 2), round(c.end, 2), c.text] for c in captions
        ],
        "loop_lag_ms": {"p50": loop.p50_ms, "p99": loop.p99_ms, "max": loop.max_ms},
        "rss_mb": {"start": rss[0] if rss else 0.0, "end": rss[-1] if rss else 0.0},
        "cpu_per_audio_second": cpu / audio if audio else 0.0,
    }


async def listen(running: VoiceRunning, users: list[FakeUser]) -> ListeningSession:
    fake, voice = running.discord, running.voice
    for user in users:
        await voice.join(user)
    await fake.post(fake.trainer, f"!listen <#{fake.chat}>")
    await fake.wait_for(lambda m: m["content"].startswith("🎙️ Listening in"), timeout=120)
    await asyncio.wait_for(voice.ready.wait(), 30)
    cog = running.bridge.bot.get_cog("Listen")
    session: ListeningSession = cog.sessions[fake.guild_id]  # type: ignore[union-attr]
    return session


async def member(running: VoiceRunning, session: ListeningSession, name: str, user: FakeUser,
                 clips: list[Clip], frames: dict[str, list[bytes]], deadline: float,
                 seed: int) -> list[Said]:  # fmt: skip
    """One member saying clips in real time, with pauses, until the deadline."""
    chance = random.Random(seed)
    said: list[Said] = []
    await asyncio.sleep(seed * 0.7)  # not all three at the same instant
    while time.perf_counter() < deadline:
        clip = chance.choice(clips)
        start = session.clock()
        await running.voice.speak(user, frames[clip.path.name], tail=False)
        said.append(Said(name, clip, start, session.clock(), time.perf_counter()))
        await running.voice.speak(user, [], tail=True)  # the silence frames a client ends with
        await asyncio.sleep(chance.uniform(2, 4))
    return said


async def stamp(fake: FakeDiscord, arrivals: list[tuple[float, dict[str, Any]]]) -> None:
    """Each message the bot sends or edits, with the moment it reached Discord."""
    seen = 0
    async with fake.changed:
        while True:
            await fake.changed.wait()
            now = time.perf_counter()
            arrivals.extend((now, message) for message in fake.bot_messages[seen:])
            seen = len(fake.bot_messages)


async def sample_rss(process: psutil.Process, rss: list[float], deadline: float,
                     minutes: float) -> None:  # fmt: skip
    """RSS once the session is warm (after a minute, or a quarter of a shorter run), and at
    the end."""
    await asyncio.sleep(min(60.0, minutes * 15))
    rss.append(process.memory_info().rss / 2**20)
    await asyncio.sleep(max(0.0, deadline - time.perf_counter()))
    rss.append(process.memory_info().rss / 2**20)


def collect(finals: Any) -> list[VoiceCaption]:
    captions = []
    while (event := finals.get_nowait()) is not None:
        if event.final:
            captions.append(event)
    return captions


def match_captions(utterances: list[Said], arrivals: list[tuple[float, dict[str, Any]]],
                   captions: list[VoiceCaption]) -> None:  # fmt: skip
    """Each final caption goes to the clip its speaker was saying (by its middle, in session
    time); a clip's caption time is when the last of its final captions reached Discord, found
    by the message's text (a clip with a pause may take two captions: "1, 2" and "3")."""
    for caption in captions:
        middle = (caption.start + caption.end) / 2
        mine = [s for s in utterances if s.speaker == caption.speaker_name]
        best = min(mine, key=lambda s: abs((s.start + s.end) / 2 - middle), default=None)
        if best is None or not best.start - 1 <= middle <= best.end + 1:
            continue
        best.heard.append(caption.text)
        content = posted(caption)
        arrived = [
            at
            for at, m in arrivals
            if m["content"] == content and at > best.ended_at - best.clip.duration
        ]
        if arrived:
            best.caption_at = max(best.caption_at or 0.0, min(arrived))


def posted(caption: VoiceCaption) -> str:
    """A final caption's message, as the session posts it."""
    name = discord.utils.escape_markdown(caption.speaker_name)
    return f"**{name}**: {discord.utils.escape_markdown(caption.text)}"


async def file_texts(whisper: WhisperTranscriber, clips: list[Clip],
                     frames: dict[str, list[bytes]]) -> dict[str, tuple[str, str]]:  # fmt: skip
    """Each clip transcribed as a file: as recorded, and as Discord delivers it to the bot (the
    client's Opus frames, decoded and resampled by the bot's own receive path)."""
    texts = {}
    for clip in clips:
        recorded = await whisper.transcribe(await clip.decode(), language="en")
        decoder, downsampler = Decoder(), Downsampler()  # type: ignore[no-untyped-call]
        pcm = b"".join(
            downsampler.feed(decoder.decode(f, fec=False)) for f in frames[clip.path.name]
        )
        received = await whisper.transcribe(Pcm(pcm), language="en")
        texts[clip.path.name] = (recorded.text, received.text)
    return texts


def corpus_wer(pairs: list[tuple[str, str]]) -> float:
    counts = [error_counts(reference, heard) for reference, heard in pairs]
    return sum(e for e, _ in counts) / max(1, sum(w for _, w in counts))


def report(result: dict[str, Any], path: Path) -> None:
    latencies = np.array(result["latencies"] or [float("inf")])
    p50, p95 = np.percentile(latencies, [50, 95])
    lag, rss = result["loop_lag_ms"], result["rss_mb"]
    growth = rss["end"] - rss["start"]
    spoken = f"{result['utterances']} clips, {result['audio_seconds']:.0f} s of speech"
    table = Table(title=f"Three members captioned live for {result['minutes']:g} min ({spoken})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("end of utterance to final caption p50 / p95 / max",
         f"{p50:.2f} / {p95:.2f} / {latencies.max():.2f} s"),
        ("clips without a final caption", str(result["missing_captions"])),
        ("WER: captions / files as received / as recorded",
         f"{result['caption_wer']:.3f} / {result['received_file_wer']:.3f} / "
         f"{result['file_wer']:.3f}"),
        ("event-loop lag p50 / p99 / max", f"{lag['p50']:.1f} / {lag['p99']:.1f} / "
         f"{lag['max']:.1f} ms"),
        ("RSS warm / end (growth)", f"{rss['start']:.0f} / {rss['end']:.0f} MB ({growth:+.1f})"),
        ("CPU seconds per audio second", f"{result['cpu_per_audio_second']:.2f}"),
    ]  # fmt: skip
    for row in rows:
        table.add_row(*row)
    console = Console(width=120)
    console.print(table)
    wer_limit = 1.15 * result["received_file_wer"]
    checks = [
        (p95 <= 1.5, f"final caption p95 {p95:.2f} s <= 1.5 s after the end of each utterance"),
        (result["caption_wer"] <= wer_limit + 1e-9,
         f"caption WER {result['caption_wer']:.3f} <= 1.15 x WER of the clips as Discord "
         f"delivers them, transcribed as files ({wer_limit:.3f})"),
        (lag["p99"] < 16, f"event-loop lag p99 {lag['p99']:.1f} ms < 16 ms"),
        (growth < 50, f"RSS growth {growth:+.1f} MB < 50 MB over {result['minutes']:g} min"),
    ]  # fmt: skip
    for ok, line in checks:
        console.print(f"{'PASS' if ok else 'FAIL'}  {line}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"Wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args()
    report(asyncio.run(run(args.minutes)), args.json)


if __name__ == "__main__":
    main()
