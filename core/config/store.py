"""The one way settings change: validated, written atomically under a file lock, announced.

The CLI, the bot and the window all change settings here. Each change re-reads the file under a
lock shared with every other Voxdesk process, so two writers never lose each other's updates;
only the file's own values are written back (never an environment override); the settings in
force are updated in place, because the assistant, the bot and the pages hold their sections;
and a ``SettingsChanged`` event tells whoever shows or uses them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import filelock
import tomli_w
from pydantic import BaseModel, HttpUrl, TypeAdapter, ValidationError

from voxdesk.core.config.secrets import Secret, SecretStore
from voxdesk.core.config.settings import (
    Settings,
    SettingsError,
    SettingsFile,
    default_settings_path,
    read_settings_file,
    settings_in_force,
    summarize_validation,
)
from voxdesk.core.events import EventBus, SettingsChanged
from voxdesk.core.logs import redact
from voxdesk.core.models import ModelNotInstalled, ModelStore

LOCK_TIMEOUT = 10  # seconds; a writer holds the lock for milliseconds
# What API keys and bot tokens look like: OpenAI's "sk-…" keys and Discord's three-part tokens.
_SECRET_SHAPES = re.compile(
    r"\bsk-[A-Za-z0-9_-]{20,}|[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{25,}"
)

_HTTP_URL = TypeAdapter(HttpUrl)


class SettingsStore:
    """Changes the settings in force and the settings file together."""

    def __init__(
        self,
        settings: Settings,
        path: Path | None = None,
        *,
        events: EventBus | None = None,
        secrets: SecretStore | None = None,
    ) -> None:
        self.settings = settings
        self.path = path or default_settings_path()
        self._events = events
        self._secrets = secrets or SecretStore()
        self._turn = asyncio.Lock()  # one change at a time in this process; the file lock: across
        # What the file and the stamps held when last seen here: only a store that follows the
        # file (the window's) reads them, so that a command line's store costs no extra read.
        self._seen: dict[str, Any] | None = None
        self._stamps: dict[str, int] | None = None

    @property
    def stamp_path(self) -> Path:
        """Which secret was stored when (never a secret): how other processes learn of it."""
        return self.path.with_name(".secrets-stored.json")

    async def set(self, key: str, value: Any) -> frozenset[str]:
        """Change one setting ("section.name"); None resets it to its default."""
        return await self.update({key: value})

    async def update(self, changes: Mapping[str, Any]) -> frozenset[str]:
        """Validate ``changes`` with the file's other values, save them and apply them.

        Returns the names of the settings in force that changed: an environment override
        stays in force over the value saved. Raises ``SettingsError`` and saves nothing when
        any value is invalid.
        """
        for key in changes:
            _check_key(key)
        async with self._turn:
            in_force = await asyncio.to_thread(self._save, dict(changes))
        changed = frozenset(_apply(in_force, self.settings, changes))
        if changed and self._events is not None:
            self._events.publish(SettingsChanged(changed))
        return changed

    async def store_secret(self, secret: Secret, value: str) -> None:
        """Save a secret in the OS keyring (never the settings file) and announce it, here and,
        through a stamp beside the settings file, to the other Voxdesk processes."""
        await asyncio.to_thread(self._secrets.store, secret, value)
        if self._events is not None:
            self._events.publish(SettingsChanged(frozenset({secret.value})))
        async with self._turn:  # follow_file compares the stamps with these: not meanwhile
            self._stamps = await asyncio.to_thread(self._stamp, secret)

    async def start_following(self) -> None:
        """Note what the file and the stamps hold now: ``follow_file`` takes in what changes."""
        async with self._turn:
            self._seen, self._stamps = await asyncio.to_thread(
                lambda: (_stored_values(self.path), _read_stamps(self.stamp_path))
            )

    async def follow_file(self) -> frozenset[str]:
        """Take in what another process saved since ``start_following`` (``voxdesk config set``
        or ``set-secret`` while the window runs): the settings that changed are applied and
        announced, as a change made here would be. A file that does not validate raises
        ``SettingsError`` and changes nothing."""
        if self._seen is None or self._stamps is None:
            raise RuntimeError("start_following() first")
        async with self._turn:
            stored, in_force, stamps = await asyncio.to_thread(self._read_back)
            seen = self._seen
            saved = {key for key in _keys(Settings) if _value(stored, key) != _value(seen, key)}
            self._seen = stored
        # Only what the file changed: a value set here in memory alone (a test's, a command
        # line's) stays, where re-reading everything would reset it.
        changed = set(_apply(in_force, self.settings, saved))
        before = self._stamps
        changed |= {name for name, when in stamps.items() if before.get(name) != when}
        self._stamps = stamps
        if changed and self._events is not None:
            self._events.publish(SettingsChanged(frozenset(changed)))
        return frozenset(changed)

    def _read_back(self) -> tuple[dict[str, Any], Settings, dict[str, int]]:
        stored = _validated(read_settings_file(self.path))
        return stored, settings_in_force(stored, self.path), _read_stamps(self.stamp_path)

    def _stamp(self, secret: Secret) -> dict[str, int]:
        # The process that stored it has announced it already; a window elsewhere learns of it
        # only from the stamp (a settings save does not touch it), or when it starts again.
        stored = (
            "the secret is stored, but any other Voxdesk window open now will not see it "
            "until it is restarted"
        )
        with self._locked(otherwise=stored):
            stamps = _read_stamps(self.stamp_path) | {secret.value: time.time_ns()}
            _write_atomically(self.stamp_path, json.dumps(stamps))
        return stamps

    def _save(self, changes: dict[str, Any]) -> Settings:
        known = [found.value for secret in Secret if (found := self._secrets.get(secret))]
        for key, value in changes.items():
            _refuse_secrets(key, value, known)
        _refuse_a_missing_model(changes.get("speech.whisper_model"))
        _refuse_a_bad_base_url(changes.get("openai.base_url"))
        with self._locked(otherwise="nothing was saved"):
            data = read_settings_file(self.path)
            for key, value in changes.items():
                section, _, name = key.partition(".")
                data.setdefault(section, {})[name] = value
                if value is None:  # TOML has no null: the default applies
                    del data[section][name]
            stored = _validated(data)
            in_force = settings_in_force(stored, self.path)
            _write_atomically(self.path, tomli_w.dumps(stored))
            self._seen = stored
        return in_force

    @contextlib.contextmanager
    def _locked(self, *, otherwise: str) -> Iterator[None]:
        """Hold the lock every Voxdesk process takes to write the settings or the stamps: each
        write re-reads its file first, and two at once would lose one of the changes.
        ``otherwise`` says what became of the change when another program keeps the lock."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(self.path.with_name(f".{self.path.name}.lock"))
        try:
            lock.acquire(timeout=LOCK_TIMEOUT)
        except filelock.Timeout:
            raise SettingsError(
                f"Another program has held the settings file {self.path} for "
                f"{LOCK_TIMEOUT} seconds; {otherwise}.",
                hint="Try again; if it persists, close the other Voxdesk.",
            ) from None
        try:
            yield
        finally:
            lock.release()


class SettingsWatch:
    """For a part that keeps something built from settings (a client, a loaded model): did
    any setting it depends on change since it last asked? Never waits."""

    def __init__(self, events: EventBus, *prefixes: str) -> None:
        self._changes = events.subscribe(SettingsChanged, size=100)
        self._prefixes = prefixes
        self._dropped = 0

    def changed(self) -> bool:
        found = self._changes.dropped > self._dropped  # events lost: assume the worst
        self._dropped = self._changes.dropped
        while (event := self._changes.get_nowait()) is not None:
            found = found or any(key.startswith(self._prefixes) for key in event.keys)
        return found


def _validated(data: dict[str, Any]) -> dict[str, Any]:
    """The file's values, checked and normalized ('1e3' seconds is 1000.0); defaults stay out
    of the file, so a later version's better default reaches this user too."""
    try:
        checked = SettingsFile.model_validate(data)
    except ValidationError as error:
        raise SettingsError(f"Not saved: {summarize_validation(error)}.") from None
    return checked.model_dump(mode="json", exclude_unset=True, exclude_none=True)


def _apply(new: Settings, settings: Settings, keys: Iterable[str]) -> Iterator[str]:
    """Copy the ``keys`` that differ into ``settings`` in place, naming each one copied."""
    for key in keys:
        section, _, name = key.partition(".")
        target: BaseModel = getattr(settings, section)
        value = getattr(getattr(new, section), name)
        if getattr(target, name) != value:
            setattr(target, name, value)
            yield key


def _keys(model: type[Settings]) -> Iterator[str]:
    """Every setting's "section.name"."""
    for section, field in model.model_fields.items():
        for name in getattr(field.annotation, "model_fields", {}):
            yield f"{section}.{name}"


def _value(stored: Mapping[str, Any], key: str) -> Any:
    section, _, name = key.partition(".")
    return stored.get(section, {}).get(name)


def _stored_values(path: Path) -> dict[str, Any]:
    """The file's values; none when it cannot be read (the first change will say why)."""
    try:
        return _validated(read_settings_file(path))
    except SettingsError:
        return {}


def _read_stamps(path: Path) -> dict[str, int]:
    try:
        stamps = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(stamps, dict):
        return {}
    return {str(name): when for name, when in stamps.items() if isinstance(when, int)}


def _check_key(key: str) -> None:
    section, _, name = key.partition(".")
    group = SettingsFile.model_fields.get(section)
    fields = getattr(group.annotation, "model_fields", {}) if group else {}
    if name not in fields:
        raise SettingsError(
            f"There is no setting '{key}'.", hint="`voxdesk config show` lists them all."
        )


def _refuse_secrets(key: str, value: Any, known: list[str]) -> None:
    """An API key or a bot token pasted into a setting would sit in a plain text file: one
    shaped like OpenAI's or Discord's, or one of the secrets configured here (any shape)."""
    texts = list(_texts(value))
    if any(_SECRET_SHAPES.search(text) or any(s in text for s in known) for text in texts):
        raise SettingsError(
            f"Not saved: the value for {key} looks like a secret (an API key or a bot token), "
            "and the settings file is plain text.",
            hint="Store secrets in the OS keyring: `voxdesk config set-secret OPENAI_API_KEY` "
            "(or DISCORD_TOKEN), or the Secrets box of the Settings page.",
        )


def _refuse_a_missing_model(name: Any) -> None:
    """A catalogue model that is not downloaded validates, so that a file naming one still
    loads and ``voxdesk models download`` can mend it; but choosing one would make every
    transcription fail until then. Checked on the disk only, never the network."""
    # core.stt imports the settings: its model table is imported when first needed.
    from voxdesk.core.stt.whisper_models import BUNDLED, whisper_names

    if not isinstance(name, str) or name in BUNDLED or name not in whisper_names():
        return
    try:
        ModelStore().path(name)
    except ModelNotInstalled as error:
        raise SettingsError(
            f"Not saved: speech.whisper_model: {error}",
            hint=f"Download it first: `voxdesk models download {name}`; or choose a bundled "
            f"model ({', '.join(BUNDLED)}).",
        ) from None


def _refuse_a_bad_base_url(url: Any) -> None:
    """The OpenAI client takes any text, and every request then fails far from here. Checked
    when chosen, not when a file is read: a file that once took any text must still load (and
    be mended with ``config set``); its requests then say the URL is wrong."""
    if not isinstance(url, str) or not url:
        return
    try:
        _HTTP_URL.validate_python(url)  # checked only: the text is kept as written
    except ValidationError:
        raise SettingsError(  # its user:password@ stays out of the message
            f"Not saved: openai.base_url: '{redact(url)}' is not an http(s) URL such as "
            "https://api.example.com/v1; leave it empty for api.openai.com."
        ) from None


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from _texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)


def _write_atomically(path: Path, text: str) -> None:
    """A reader sees the old file or the new one, never half of one (write, sync, rename)."""
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".settings-", suffix=".toml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(temp_name).replace(path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
