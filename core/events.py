"""One typed event bus: the bot publishes what it sees and does, the window listens.

Events are frozen dataclasses, one type per fact. ``publish`` never blocks the publisher: each
subscription has its own bounded queue, and a subscriber that falls behind loses its oldest
events (and is told how many) rather than slowing the bot down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

E = TypeVar("E", bound="Event")


@dataclass(frozen=True)
class Event:
    at: datetime = field(default_factory=lambda: datetime.now(UTC), kw_only=True)


@dataclass(frozen=True)
class Place:
    """Where something happened on Discord (guild is None in direct messages)."""

    guild_id: int | None
    guild_name: str | None
    channel_id: int
    channel_name: str


@dataclass(frozen=True)
class MessageSeen(Event):
    place: Place
    message_id: int
    author_id: int
    author_name: str
    content: str
    attachments: tuple[str, ...] = ()


@dataclass(frozen=True)
class TranscriptReady(Event):
    place: Place
    message_id: int
    author_name: str
    text: str
    language: str | None
    engine: str
    audio_seconds: float


@dataclass(frozen=True)
class ReplySent(Event):
    place: Place
    message_id: int
    text: str
    in_reply_to: int | None = None
    spoken: bool = False
    question: str = ""  # what the reply answered, for corrections


@dataclass(frozen=True)
class CommandRun(Event):
    place: Place
    author_name: str
    command: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class BridgeError(Event):
    place: Place | None
    message: str


@dataclass(frozen=True)
class BridgeStateChanged(Event):
    state: str  # offline, connecting, connected, reconnecting, error
    detail: str = ""


@dataclass(frozen=True)
class JobUpdated(Event):
    job_id: str
    status: str
    fine_tuned_model: str | None = None


@dataclass(frozen=True)
class EvaluationEnded(Event):
    """An evaluation finished, failed or was stopped, its answers stored (the bot's ``!test``
    too): the window lists it."""

    evaluation_id: int
    job_id: str | None = None


@dataclass(frozen=True)
class VoiceCaption(Event):
    """What one member is saying in a voice channel the bot listens to.

    ``text`` is the utterance so far and replaces the previous caption with the same
    ``utterance``; once ``final`` is set it never changes again.
    """

    place: Place  # the voice channel
    utterance: int
    speaker_id: int
    speaker_name: str
    text: str
    final: bool
    start: float = 0.0  # seconds from the start of the listening session
    end: float = 0.0
    partial: str = ""  # the end of ``text`` whose words may still change


@dataclass(frozen=True)
class ListeningChanged(Event):
    """The bot started or stopped listening in a voice channel, or has news about it."""

    place: Place  # the voice channel
    listening: bool
    detail: str = ""


@dataclass(frozen=True)
class VoiceChanged(Event):
    """Spoken replies moved to another voice: the preferred one cannot speak, or can again."""

    engine: str  # the voice speaking now
    preferred: str  # the first voice of the preference
    reason: str = ""  # why the voices before it could not speak; empty when it is the preferred


@dataclass(frozen=True)
class SettingsChanged(Event):
    """Settings in force changed: dotted names ("speech.language"), or a secret's name
    ("DISCORD_TOKEN") when one was stored in or removed from the keyring. Never a value."""

    keys: frozenset[str]


class Subscription(Generic[E]):
    """Events of one type (and its subtypes) as they are published."""

    def __init__(self, bus: EventBus, kind: type[E], size: int) -> None:
        self._bus = bus
        self.kind = kind
        self._queue: asyncio.Queue[E] = asyncio.Queue(size)
        self.dropped = 0

    def offer(self, event: Event) -> None:
        if not isinstance(event, self.kind):
            return
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(event)

    async def get(self) -> E:
        return await self._queue.get()

    def get_nowait(self) -> E | None:
        return None if self._queue.empty() else self._queue.get_nowait()

    def close(self) -> None:
        self._bus.unsubscribe(self)

    async def __aiter__(self) -> AsyncIterator[E]:
        while True:
            yield await self._queue.get()


class EventBus:
    def __init__(self) -> None:
        self._subscriptions: list[Subscription[Event]] = []

    def subscribe(self, kind: type[E] = Event, *, size: int = 1000) -> Subscription[E]:  # type: ignore[assignment]
        subscription = Subscription(self, kind, size)
        self._subscriptions.append(subscription)  # type: ignore[arg-type]
        return subscription

    def unsubscribe(self, subscription: Subscription[E]) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)  # type: ignore[arg-type]

    def publish(self, event: Event) -> None:
        """Hand ``event`` to every subscriber of its type; never waits."""
        log.debug("event %s", event)
        for subscription in list(self._subscriptions):
            subscription.offer(event)


@dataclass(frozen=True)
class ChannelInfo:
    id: int
    name: str
    voice: bool


@dataclass(frozen=True)
class GuildInfo:
    id: int
    name: str
    channels: tuple[ChannelInfo, ...]
    voice_channel_id: int | None = None  # where the bot is connected, if anywhere
