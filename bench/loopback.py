"""What the bot benchmarks share: the loopback Discord and services ready to transcribe."""

from __future__ import annotations

from tests.fakes.discord_server import TOKEN, FakeDiscord
from voxdesk.core.config import SecretStore, Settings
from voxdesk.core.services import Services


async def loopback_bot_services() -> tuple[FakeDiscord, Services]:
    """A started loopback Discord, and services whose bot will log in to it, Whisper loaded.

    No cooldown and language detection on, so that every voice message is transcribed.
    """
    fake = await FakeDiscord().start()
    fake.point_client_here()
    settings = Settings()
    settings.discord.cooldown_seconds = 0
    settings.discord.language = "auto"
    services = Services(settings, SecretStore({"DISCORD_TOKEN": TOKEN}))
    await services.speech.transcriber("whisper").load()  # type: ignore[attr-defined]
    return fake, services
