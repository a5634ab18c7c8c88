"""Bridge benchmark: voice messages through the loopback Discord to transcript replies.

    python -m bench.bridge [--messages 30] [--rate 1.0]

The real bot (discord.py, the offline Whisper engine) runs against the loopback Discord on one
loop. Voice messages made from the corpus arrive at a steady rate; for each, the time from
posting to the transcript replacing the placeholder is measured, with the event loop's lag.
Target on 2 cores: p95 <= 1 s + 0.3 x the audio's length; loop lag p99 < 16 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from bench.loopback import loopback_bot_services
from bench.looplag import LoopLagMonitor
from tests.bridge.test_transcription import voice_message
from tests.conftest import corpus_clips
from tests.fakes.discord_server import FakeDiscord
from voxdesk.bridge.runner import Bridge
from voxdesk.core.startup import freeze_start_up_objects

RESULTS = Path(__file__).parent / "results" / "voxdesk.bridge.json"


async def run(messages: int, rate: float) -> dict[str, Any]:
    fake, services = await loopback_bot_services()
    bridge = Bridge(services)
    await bridge.start()
    await bridge.bot.wait_until_ready()
    freeze_start_up_objects()  # as the headless bot does once logged in
    clips = [c for c in corpus_clips() if c.path.suffix != ".raw"]
    audio = [(voice_message(c.path.name), c.duration) for c in clips]
    monitor = LoopLagMonitor()
    monitor.start()
    started = time.perf_counter()
    timings = await asyncio.gather(*(
        one_message(fake, index / rate, *audio[index % len(audio)]) for index in range(messages)
    ))  # fmt: skip
    elapsed = time.perf_counter() - started
    lag = await monitor.stop()
    await bridge.stop()
    await services.close()
    await fake.stop()
    return {"timings": timings, "elapsed": elapsed, "lag": lag.__dict__, "messages": messages}


async def one_message(
    fake: FakeDiscord, delay: float, data: bytes, seconds: float
) -> dict[str, float]:
    await asyncio.sleep(delay)
    attachment = fake.attachment(data, "voice-message.ogg", "audio/ogg", voice=True)
    posted_at = time.perf_counter()
    posted = await fake.post(fake.member, attachments=[attachment], voice=True)
    await fake.wait_for(lambda m: m.get("message_reference", {}).get("message_id") == str(posted)
                        and m["content"] != "🎙️ Transcribing…", timeout=300)  # fmt: skip
    return {"seconds": time.perf_counter() - posted_at, "audio_seconds": seconds}


def report(result: dict[str, Any], path: Path) -> None:
    latencies = np.array([t["seconds"] for t in result["timings"]])
    budgets = np.array([1 + 0.3 * t["audio_seconds"] for t in result["timings"]])
    p50, p95 = np.percentile(latencies, [50, 95])
    within = float(np.mean(latencies <= budgets))
    table = Table(title=f"{result['messages']} voice messages through the loopback Discord")
    for column in ("p50 s", "p95 s", "max s", "messages/s", "loop lag p50 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="right")
    lag = result["lag"]
    table.add_row(f"{p50:.2f}", f"{p95:.2f}", f"{latencies.max():.2f}",
                  f"{result['messages'] / result['elapsed']:.2f}", f"{lag['p50_ms']:.1f}",
                  f"{lag['p99_ms']:.1f}", f"{lag['max_ms']:.1f}")  # fmt: skip
    console = Console(width=120)
    console.print(table)
    p95_ok = float(np.percentile(latencies - budgets, 95)) <= 0
    console.print(f"{'PASS' if p95_ok else 'FAIL'}  p95 within 1 s + 0.3 x audio length "
                  f"({within:.0%} of messages were)")  # fmt: skip
    console.print(f"{'PASS' if lag['p99_ms'] < 16 else 'FAIL'}  loop lag p99 < 16 ms")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"Wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=30)
    parser.add_argument("--rate", type=float, default=1.0, help="Messages posted per second.")
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args()
    report(asyncio.run(run(args.messages, args.rate)), args.json)


if __name__ == "__main__":
    main()
