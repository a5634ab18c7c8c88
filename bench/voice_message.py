"""Voice message benchmark: a voice message answered, from posting to the answer being spoken.

    python -m bench.voice_message [--messages 20] [--model-latency 0.5]

The real bot (discord.py, the offline Whisper engine, the espeak voice) runs against the loopback
Discord and the loopback OpenAI, which answers each chat request after a fixed latency, standing
in for the model. A member in the bot's voice channel posts corpus voice messages in a reply
channel, one after another; for each, the times from posting to the transcript, to the answer
and to the answer's speech starting (the source handed to the voice client) are measured.
Targets on 2 cores: speech starts within 2 s + 0.3 x the audio's length + the model's latency
(p95); the bot's own share of the answer (transcript to answer, less the model's latency) is at
most 0.25 s (p95).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import discord
import numpy as np
from rich.console import Console
from rich.table import Table

from tests.bridge.conftest import RecordingVoiceClient
from tests.bridge.test_transcription import voice_message
from tests.conftest import corpus_clips
from tests.fakes.discord_server import TOKEN, FakeDiscord
from tests.fakes.openai_server import API_KEY, FakeOpenAI
from voxdesk.bridge.runner import Bridge
from voxdesk.core.config import SecretStore, Settings
from voxdesk.core.services import Services
from voxdesk.core.startup import (
    freeze_start_up_objects,
    import_openai_ahead,
    load_token_table,
)

RESULTS = Path(__file__).parent / "results" / "voxdesk.voice_message.json"
PLACEHOLDER = "🎙️ Transcribing…"
STAGES = ("transcript", "answer", "speech")


class TimedVoiceClient(RecordingVoiceClient):
    """The tests' voice client, noting when each answer starts to be played."""

    started = asyncio.Event()
    at = 0.0

    def play(self, source: discord.AudioSource, *, after: Any = None) -> None:
        TimedVoiceClient.at = time.perf_counter()
        TimedVoiceClient.started.set()
        super().play(source, after=after)


async def run(messages: int, latency: float) -> dict[str, Any]:
    fake = await FakeDiscord().start()
    openai = await FakeOpenAI().start()
    openai.reply_delay = latency
    fake.point_client_here()
    secrets = SecretStore({"DISCORD_TOKEN": TOKEN, "OPENAI_API_KEY": API_KEY})
    services = Services(bot_settings(fake, openai), secrets)
    await services.speech.transcriber("whisper").load()  # type: ignore[attr-defined]
    bridge = Bridge(services, voice_client_class=TimedVoiceClient)
    load_token_table(secrets, services.settings.assistant.model)  # as the headless bot does
    await bridge.start()
    await bridge.bot.wait_until_ready()
    freeze_start_up_objects()  # as the headless bot does once logged in, and then,
    await import_openai_ahead(secrets)  # with a key, the OpenAI SDK in a worker thread
    await fake.join_voice(fake.member, fake.voice)
    await fake.post(fake.member, "!join")
    await fake.wait_for(lambda m: m["content"].startswith("Joined"))
    clips = [c for c in corpus_clips() if c.path.suffix != ".raw"]
    audio = [(voice_message(c.path.name), c.duration) for c in clips]
    timings = [await one_message(fake, openai, *audio[n % len(audio)]) for n in range(messages)]
    await bridge.stop()
    await services.close()
    await openai.stop()
    await fake.stop()
    return {"timings": timings, "messages": messages, "model_latency": latency}


def bot_settings(fake: FakeDiscord, openai: FakeOpenAI) -> Settings:
    """Every message in the reply channel answered, spoken offline, with no cooldown."""
    settings = Settings()
    settings.discord.reply_channels = [fake.chat]
    settings.discord.cooldown_seconds = 0
    settings.discord.language = "auto"
    settings.openai.base_url = openai.base_url
    settings.tts.engine = "espeak"
    return settings


async def one_message(
    fake: FakeDiscord, openai: FakeOpenAI, data: bytes, seconds: float
) -> dict[str, float]:
    TimedVoiceClient.started.clear()
    attachment = fake.attachment(data, "voice-message.ogg", "audio/ogg", voice=True)
    posted_at = time.perf_counter()
    posted = await fake.post(fake.member, attachments=[attachment], voice=True, channel=fake.chat)

    def reply(message: dict[str, Any]) -> bool:
        return message.get("message_reference", {}).get("message_id") == str(posted)

    await fake.wait_for(lambda m: reply(m) and m["content"] not in (PLACEHOLDER, openai.reply),
                        timeout=300)  # fmt: skip
    transcript = time.perf_counter() - posted_at
    await fake.wait_for(lambda m: reply(m) and m["content"] == openai.reply, timeout=300)
    answer = time.perf_counter() - posted_at
    await asyncio.wait_for(TimedVoiceClient.started.wait(), 300)
    speech = TimedVoiceClient.at - posted_at
    return {"transcript": transcript, "answer": answer, "speech": speech, "audio_seconds": seconds}


def report(result: dict[str, Any], path: Path) -> None:
    timings, latency = result["timings"], result["model_latency"]
    table = Table(title=f"{result['messages']} voice messages answered on the loopback Discord "
                  f"(model answers in {latency:.2f} s)")  # fmt: skip
    for column in ("from posting to", "p50 s", "p95 s", "max s"):
        table.add_column(column, justify="right")
    for stage in STAGES:
        values = np.array([t[stage] for t in timings])
        p50, p95 = np.percentile(values, [50, 95])
        table.add_row(f"{stage} start" if stage == "speech" else stage, f"{p50:.2f}",
                      f"{p95:.2f}", f"{values.max():.2f}")  # fmt: skip
    speech = np.array([t["speech"] for t in timings])
    budgets = np.array([2 + 0.3 * t["audio_seconds"] + latency for t in timings])
    ours = np.array([t["answer"] - t["transcript"] - latency for t in timings])
    console = Console(width=120)
    console.print(table)
    speech_ok = float(np.percentile(speech - budgets, 95)) <= 0
    within = float(np.mean(speech <= budgets))
    console.print(f"{'PASS' if speech_ok else 'FAIL'}  p95 speech start within 2 s + 0.3 x audio "
                  f"length + model latency ({within:.0%} of messages were)")  # fmt: skip
    ours_p95 = float(np.percentile(ours, 95))
    console.print(f"{'PASS' if ours_p95 <= 0.25 else 'FAIL'}  p95 transcript to answer, less the "
                  f"model's latency: {ours_p95:.3f} s <= 0.25 s")  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"Wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--model-latency", type=float, default=0.5,
                        help="Seconds the loopback OpenAI takes to answer.")  # fmt: skip
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args()
    report(asyncio.run(run(args.messages, args.model_latency)), args.json)


if __name__ == "__main__":
    main()
