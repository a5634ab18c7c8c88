"""Listening in one voice channel: each member's speech to live captions, by name.

Every wanted member gets a feed: their PCM waits in a bounded queue, and while they speak a live
transcriber (core's streaming engine) turns it into words. At most ``max_speakers`` feeds
transcribe at once; the others wait for a slot, and the feed says so. Discord sends nothing
while someone is quiet, so a feed fills such gaps with silence: that is what lets the engine's
voice activity detection hear the end of an utterance. Captions are posted as one message per
utterance and edited as the words firm up; the same captions go on the bus for the window.
Nothing is written to disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import discord

from voxdesk.bridge.places import channel_place
from voxdesk.bridge.voice.receiver import ListeningVoiceClient, Receiver
from voxdesk.core.audio.levels import measure
from voxdesk.core.audio.pcm import SAMPLE_RATE, SAMPLE_WIDTH, Pcm
from voxdesk.core.errors import user_message
from voxdesk.core.events import BridgeError, EventBus, ListeningChanged, VoiceCaption
from voxdesk.core.stt.base import Segment, Transcript, join_words
from voxdesk.core.stt.formats import spoken_by
from voxdesk.core.stt.streaming import LiveTranscriber, LiveUpdate

log = logging.getLogger(__name__)

QUEUED_SECONDS = 30  # of one member's speech held while they wait for a slot or the engine
GAP_SECONDS = 0.2  # no audio for this long is silence on Discord
IDLE_SECONDS = 1.5  # of silence after which a feed finishes its stream and frees its slot
EDIT_INTERVAL = 1.0  # seconds between edits of one caption (Discord limits edits per channel)
CAPTION_SECONDS = 30  # a longer utterance continues in a new message
CAPTION_CHARACTERS = 1500  # so does a caption this long (Discord's limit is 2000)
KEPT_CAPTIONS = 2000  # final captions kept in memory for the session's transcript
BARGE_IN_DBFS = -40.0  # a member this loud while the bot speaks interrupts it


@dataclass(frozen=True)
class Line:
    """One final caption of the session's transcript."""

    speaker: str
    start: float
    end: float
    text: str


class Caption:
    """One utterance's message in the text channel, edited as its words firm up."""

    def __init__(self, feed: SpeakerFeed, number: int, start: float) -> None:
        self.feed = feed
        self.number = number
        self.start = start
        self.opened = time.monotonic()
        self.final = ""
        self.partial = ""
        self.message: discord.Message | None = None
        self.edited = 0.0

    @property
    def full(self) -> bool:
        age = time.monotonic() - self.opened
        return age >= CAPTION_SECONDS or len(self.final) >= CAPTION_CHARACTERS

    async def show(self, update: LiveUpdate, *, closing: bool, end: float) -> None:
        self.final = join_words([self.final, *update.final])
        self.partial = "" if closing else join_words(update.partial)
        text = join_words([self.final, self.partial])
        if not text:
            return
        session, feed = self.feed.session, self.feed
        caption = VoiceCaption(session.place, self.number, feed.member_id, feed.name, text,
                               closing, self.start, end, partial=self.partial.strip())  # fmt: skip
        session.events.publish(caption)
        if closing:
            session.lines.append(Line(self.feed.name, self.start, end, self.final))
            session.said(self.feed.member_id, self.final)
        if closing or time.monotonic() - self.edited >= EDIT_INTERVAL:
            await self._post(closing)

    async def _post(self, closing: bool) -> None:
        final = discord.utils.escape_markdown(self.final)
        partial = discord.utils.escape_markdown(self.partial)
        words = f"{final} *{partial}*".strip() if partial else final
        content = f"**{discord.utils.escape_markdown(self.feed.name)}**: {words}"
        content += "" if closing else " …"
        self.edited = time.monotonic()
        try:
            if self.message is None:
                self.message = await self.feed.session.captions.send(
                    content, allowed_mentions=discord.AllowedMentions.none()
                )
            elif self.message.content != content:
                self.message = await self.message.edit(content=content)
        except discord.HTTPException as error:
            log.warning("Could not post a caption: %s", error)
            self.feed.session.events.publish(
                BridgeError(self.feed.session.place, f"Could not post a caption: {error.text}")
            )


class SpeakerFeed:
    """One member's speech, from PCM to captions."""

    def __init__(self, session: ListeningSession, member_id: int, name: str) -> None:
        self.session = session
        self.member_id = member_id
        self.name = name
        self.audio: deque[Pcm] = deque(maxlen=int(QUEUED_SECONDS / 0.02))
        self.arrived = asyncio.Event()
        self.dropped = 0  # 20 ms chunks lost because the queue was full
        self.caption: Caption | None = None
        self.task = asyncio.create_task(self._run(), name=f"listen-{member_id}")

    def offer(self, pcm: Pcm) -> None:
        if len(self.audio) == self.audio.maxlen:
            if not self.dropped:  # once: the feed need not hear it fifty times a second
                behind = f"{self.name}: transcription is {QUEUED_SECONDS} s behind, audio lost"
                self.session.events.publish(ListeningChanged(self.session.place, True, behind))
            self.dropped += 1
        self.audio.append(pcm)
        self.arrived.set()

    async def _run(self) -> None:
        while True:
            await self.arrived.wait()
            async with self.session.slot(self):
                try:
                    await self._transcribe()
                except Exception as error:  # a broken engine ends this stream, not the session
                    log.exception("Transcribing %s failed", self.name)
                    self.session.events.publish(
                        BridgeError(self.session.place, user_message(error))
                    )
                    self.audio.clear()
                    self.arrived.clear()
                    self.caption = None

    async def _transcribe(self) -> None:
        """One stream, from the first queued audio until the member has been quiet a while."""
        transcriber = self.session.new_transcriber()
        began = self.session.clock() - self._queued_seconds()
        heard_at = time.monotonic()  # when the last audio was taken
        quiet = 0.0  # seconds of silence fed since then
        while quiet < IDLE_SECONDS:
            if not self.audio:
                self.arrived.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.arrived.wait(), GAP_SECONDS)
            if self.audio:
                chunk = Pcm.concatenate(list(self.audio))
                self.audio.clear()
                heard_at, quiet = time.monotonic(), 0.0
            elif self.session.pending(self.member_id):
                continue  # late, not silent: the loop has not handed their packets on yet
            else:  # as long as the silence really lasted, a pass's time included
                gap = min(time.monotonic() - heard_at - quiet, IDLE_SECONDS - quiet + GAP_SECONDS)
                chunk = Pcm(bytes(int(gap * SAMPLE_RATE) * SAMPLE_WIDTH))
                quiet += chunk.duration
            update = await transcriber.feed(chunk)
            if update is not None:
                await self._caption(update, began)
        await self._caption(await transcriber.finish(), began, closing=True)

    def _queued_seconds(self) -> float:
        return sum(chunk.duration for chunk in self.audio)

    async def _caption(self, update: LiveUpdate, began: float, *, closing: bool = False) -> None:
        closing = closing or update.ended
        if self.caption is None:
            if not update.final and not update.partial:
                return
            start = began + (update.final or update.partial)[0].start
            self.session.utterances += 1
            self.caption = Caption(self, self.session.utterances, start)
        closing = closing or (bool(update.final) and self.caption.full)
        await self.caption.show(update, closing=closing, end=began + update.heard)
        if closing:
            self.caption = None


class ListeningSession:
    """Listening in one voice channel, with captions going to one text channel."""

    def __init__(
        self,
        voice: ListeningVoiceClient,
        captions: discord.abc.Messageable,
        events: EventBus,
        *,
        new_transcriber: Callable[[], LiveTranscriber],
        wanted: Callable[[int], bool],
        max_speakers: int,
        on_utterance: Callable[[int, str], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        assert isinstance(voice.channel, discord.VoiceChannel | discord.StageChannel)
        self.voice = voice
        self.channel = voice.channel
        self.captions = captions
        self.events = events
        self.new_transcriber = new_transcriber
        self.wanted = wanted
        self.on_utterance = on_utterance
        self.place = channel_place(voice.channel)
        self.feeds: dict[int, SpeakerFeed] = {}
        self.lines: deque[Line] = deque(maxlen=KEPT_CAPTIONS)
        self.utterances = 0
        self._slots = asyncio.Semaphore(max_speakers)
        self._answers: set[asyncio.Task[None]] = set()
        self._started = time.monotonic()
        self.receiver: Receiver | None = None

    def transcript(self, engine: str) -> Transcript:
        """The final captions so far in the order they were said, each with its speaker."""
        segments = (Segment(line.start, line.end, line.text, speaker=line.speaker)
                    for line in self.lines)  # fmt: skip
        return spoken_by(segments, engine, self.clock())

    def clock(self) -> float:
        """Seconds since listening started."""
        return time.monotonic() - self._started

    def start(self) -> None:
        self.receiver = self.voice.listen(self._heard, self.wanted)
        self.events.publish(ListeningChanged(self.place, True, f"captions in {self.captions}"))

    async def stop(self) -> None:
        self.voice.stop_listening()
        tasks = [feed.task for feed in self.feeds.values()] + list(self._answers)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.feeds.clear()
        self.events.publish(ListeningChanged(self.place, False))

    def forget(self, member_id: int) -> None:
        """Stop transcribing a member at once (they opted out or left)."""
        if feed := self.feeds.pop(member_id, None):
            feed.task.cancel()
        if self.receiver is not None:
            self.receiver.forget(member_id)

    def pending(self, member_id: int) -> bool:
        """A member's packets arrived and are not handed on yet."""
        return self.receiver is not None and self.receiver.pending(member_id)

    def said(self, member_id: int, text: str) -> None:
        """A member finished an utterance: whoever handles utterances gets it, in its own task
        (an answer takes seconds; the captions go on meanwhile)."""
        if self.on_utterance is not None and text:
            task = asyncio.create_task(self.on_utterance(member_id, text))
            self._answers.add(task)
            task.add_done_callback(self._answers.discard)

    def _heard(self, member_id: int, pcm: Pcm) -> None:
        if self.voice.is_playing() and measure(pcm).rms_dbfs > BARGE_IN_DBFS:
            self.voice.stop()  # barge-in: someone talks over the bot, the bot stops talking
        feed = self.feeds.get(member_id)
        if feed is None or feed.task.done():
            feed = self.feeds[member_id] = SpeakerFeed(self, member_id, self._name(member_id))
        feed.offer(pcm)

    def _name(self, member_id: int) -> str:
        member = self.channel.guild.get_member(member_id)
        return member.display_name if member else f"member {member_id}"

    @contextlib.asynccontextmanager
    async def slot(self, feed: SpeakerFeed) -> AsyncIterator[None]:
        """One of the ``max_speakers`` transcription slots; the feed says when one must wait."""
        if self._slots.locked():
            waiting = f"{feed.name} waits: all transcription slots are busy"
            self.events.publish(ListeningChanged(self.place, True, waiting))
        async with self._slots:
            yield
