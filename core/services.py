"""Everything core offers, built once from the settings: what the CLI, bot and window share.

The parts that talk to OpenAI are imported when first used: the OpenAI SDK takes a third of a
second to import, which every command line call would pay for otherwise.
"""

from __future__ import annotations

import logging
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING

from voxdesk.core.config import SecretStore, Settings, SettingsStore, SettingsWatch
from voxdesk.core.errors import user_message
from voxdesk.core.events import EventBus
from voxdesk.core.stt import SpeechService
from voxdesk.core.training.database import Database
from voxdesk.core.training.jobs import JobRegistry
from voxdesk.core.training.store import DatasetStore

if TYPE_CHECKING:
    import openai

    from voxdesk.core.assistant import Assistant
    from voxdesk.core.training.finetune import FineTuner
    from voxdesk.core.tts import VoiceChain

log = logging.getLogger(__name__)

# What an OpenAI client is made from, and what a speech engine is made from: when one changes,
# the next request makes a new one.
CLIENT_SETTINGS = ("openai.", "OPENAI_API_KEY")
ENGINE_SETTINGS = (*CLIENT_SETTINGS, "speech.whisper_", "speech.google_language",
                   "speech.network_timeout")  # fmt: skip


class Services:
    def __init__(
        self,
        settings: Settings,
        secrets: SecretStore | None = None,
        *,
        database_path: Path | None = None,
        settings_path: Path | None = None,
    ) -> None:
        self.settings = settings
        self.secrets = secrets or SecretStore()
        self.settings_path = settings_path
        self._database_path = database_path

    def openai_client(self) -> openai.AsyncOpenAI:
        """A client with the configured key and base URL; raises MissingSecret without a key."""
        from voxdesk.core.openai_client import make_client

        return make_client(self.settings.openai, self.secrets)

    @cached_property
    def events(self) -> EventBus:
        return EventBus()

    @cached_property
    def settings_store(self) -> SettingsStore:
        """The one way to change a setting: saved, applied in place and announced."""
        return SettingsStore(
            self.settings, self.settings_path, events=self.events, secrets=self.secrets
        )

    @cached_property
    def database(self) -> Database:
        return Database(self._database_path)

    @cached_property
    def datasets(self) -> DatasetStore:
        return DatasetStore(self.database)

    @cached_property
    def jobs(self) -> JobRegistry:
        return JobRegistry(self.database)

    @cached_property
    def speech(self) -> SpeechService:
        engines = SettingsWatch(self.events, *ENGINE_SETTINGS)
        return SpeechService(self.settings, self.secrets, engines)

    @cached_property
    def voice(self) -> VoiceChain:
        """Speaks with the preferred voice, or the next that can; says so once on the bus."""
        from voxdesk.core.tts import create_voice

        return create_voice(self.settings.tts, self.events)

    @cached_property
    def fine_tuner(self) -> FineTuner:
        from voxdesk.core.openai_client import make_client
        from voxdesk.core.training.finetune import FineTuner

        settings = self.settings.openai  # changed in place by the settings store
        factory = partial(make_client, settings, self.secrets)
        clients = SettingsWatch(self.events, *CLIENT_SETTINGS)
        return FineTuner(factory, self.jobs, poll_seconds=lambda: settings.job_poll_seconds,
                         events=self.events, client_settings=clients)  # fmt: skip

    @cached_property
    def assistant(self) -> Assistant:
        from voxdesk.core.assistant import Assistant

        clients = SettingsWatch(self.events, *CLIENT_SETTINGS)
        return Assistant(self.settings.assistant, self.openai_client, clients)

    async def close(self) -> None:
        """Close what was opened, each part even when another fails: left to the garbage
        collector, an OpenAI client closes its connections from whichever task runs then, and
        its failure is logged there.

        A failure is logged, not raised: this runs as the window quits or a command ends, when
        nothing can be done about it, and it must neither end the quit in a traceback nor hide
        the error a command ended with."""
        for name in ("assistant", "fine_tuner", "database"):
            if name not in self.__dict__:
                continue  # never made: nothing to close
            try:
                await self.__dict__[name].close()
            except Exception as error:
                part = name.replace("_", " ")
                log.warning("Could not close the %s: %s", part, user_message(error))
                log.debug("Closing the %s failed", part, exc_info=error)
