"""Settings (TOML + environment), secrets (environment + keyring), and redaction from logs."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import io
import json
import logging
import re
import threading
from pathlib import Path

import pytest
from filelock import FileLock

from tests.conftest import MemoryKeyring
from tests.fakes.discord_server import TOKEN
from voxdesk.core.config import (
    MissingSecret,
    OpenAISettings,
    Secret,
    SecretStore,
    Settings,
    SettingsError,
    SettingsStore,
    load_settings,
)
from voxdesk.core.config import store as store_module
from voxdesk.core.config.secrets import KeyringUnavailable
from voxdesk.core.events import EventBus, SettingsChanged
from voxdesk.core.logs import REDACTED, SecretRedactingFilter, register_secret
from voxdesk.core.services import Services


def test_defaults_without_a_file(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "absent.toml")
    assert settings.speech.engine == "whisper"
    assert settings.speech.google_language == "ru-RU"
    assert settings.tts.format == "ogg"


def test_file_values_and_environment_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('[speech]\nlanguage = "ru-RU"\nengine = "sphinx"\n[audio]\nmax_seconds = 60\n')
    monkeypatch.setenv("VOXDESK_SPEECH__ENGINE", "google")
    settings = load_settings(path)
    assert settings.speech.language == "ru-RU"  # from the file
    assert settings.speech.engine == "google"  # the environment wins
    assert settings.audio.max_seconds == 60


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("[speech\nlanguage = ")
    with pytest.raises(SettingsError, match="not valid TOML") as raised:
        load_settings(path)
    assert str(path) in str(raised.value)


def test_invalid_values_name_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('[audio]\nmax_bytes = -1\n[speech]\nengine = "siri"\n')
    with pytest.raises(SettingsError) as raised:
        load_settings(path)
    assert "audio.max_bytes" in str(raised.value) and "speech.engine" in str(raised.value)


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("[speech]\nlangauge = 'ru'\n")
    with pytest.raises(SettingsError, match="speech.langauge"):
        load_settings(path)


async def test_the_store_saves_applies_and_announces(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "settings.toml"
    settings, events = Settings(), EventBus()
    changes = events.subscribe(SettingsChanged)
    store = SettingsStore(settings, path, events=events)
    assistant = settings.assistant  # what the assistant holds
    await store.update({"speech.language": "ru-RU", "openai.base_url": "http://127.0.0.1:9/v1"})
    assert await store.set("assistant.temperature", 1.5) == {"assistant.temperature"}
    assert load_settings(path) == settings
    assert assistant.temperature == 1.5  # changed in place
    assert (await changes.get()).keys == {"speech.language", "openai.base_url"}
    assert (await changes.get()).keys == {"assistant.temperature"}
    assert path.read_text() == (
        '[speech]\nlanguage = "ru-RU"\n\n[openai]\nbase_url = "http://127.0.0.1:9/v1"\n\n'
        "[assistant]\ntemperature = 1.5\n"
    )  # only what was set: a default stays a default
    await store.set("openai.base_url", None)  # back to the default
    assert "base_url" not in path.read_text() and settings.openai.base_url is None
    assert not list(path.parent.glob(".settings-*"))  # no temp left behind


async def test_the_store_never_writes_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "settings.toml"
    monkeypatch.setenv("VOXDESK_AUDIO__MAX_BYTES", "1")
    settings = load_settings(path)
    await SettingsStore(settings, path).set("speech.language", "de")
    assert path.read_text() == '[speech]\nlanguage = "de"\n'
    monkeypatch.delenv("VOXDESK_AUDIO__MAX_BYTES")
    assert load_settings(path).audio.max_bytes == 25 * 1024 * 1024


async def test_the_store_keeps_what_another_writer_saved(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    first, second = SettingsStore(Settings(), path), SettingsStore(Settings(), path)
    await first.set("discord.guild_datasets", {"1": "second"})
    await second.set("assistant.system_prompt", "Be brief.")  # knew nothing of the first
    saved = load_settings(path)
    assert saved.discord.guild_datasets == {"1": "second"}
    assert saved.assistant.system_prompt == "Be brief."


async def test_what_another_process_saved_is_taken_in_and_announced(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    """The window's store follows ``voxdesk config set`` and ``set-secret`` run meanwhile: the
    settings in force change in place, and the names changed (a secret's too) are announced."""
    path = tmp_path / "settings.toml"
    settings, events = Settings(), EventBus()
    window = SettingsStore(settings, path, events=events)
    await window.start_following()
    changes = events.subscribe(SettingsChanged)
    cli = SettingsStore(Settings(), path)
    await cli.set("speech.language", "ru-RU")
    await cli.store_secret(Secret.DISCORD_TOKEN, "a-token-stored-elsewhere")
    speech = settings.speech  # what the engines hold
    settings.discord.reply_channels = [5]  # in memory only, as a test or a command line sets

    assert await window.follow_file() == {"speech.language", "DISCORD_TOKEN"}
    assert speech.language == "ru-RU" and settings.discord.reply_channels == [5]
    assert (await changes.get()).keys == {"speech.language", "DISCORD_TOKEN"}
    assert await window.follow_file() == set()  # nothing new: nothing announced
    assert "a-token-stored-elsewhere" not in (tmp_path / ".secrets-stored.json").read_text()

    path.write_text('[speech]\nengine = "siri"\n')  # saved by hand, wrong
    with pytest.raises(SettingsError, match="speech.engine"):
        await window.follow_file()
    assert settings.speech.engine == Settings().speech.engine and speech.language == "ru-RU"


async def test_a_locked_file_waits_off_the_loop_then_gives_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "settings.toml"
    monkeypatch.setattr(store_module, "LOCK_TIMEOUT", 0.3)
    store = SettingsStore(Settings(), path)
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while not saving.done():
            ticks += 1
            await asyncio.sleep(0.01)

    with FileLock(tmp_path / ".settings.toml.lock"):  # another process is writing
        saving = asyncio.ensure_future(store.set("speech.language", "de"))
        await heartbeat()
    with pytest.raises(SettingsError, match="Another program has held"):
        await saving
    assert ticks >= 10  # the loop went on while the store waited
    assert not path.exists()


async def test_secrets_stored_at_once_are_both_stamped(
    tmp_path: Path, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes storing a secret at the same moment: each re-reads the stamps before it
    writes them, so unless one waits for the other, the later write drops the earlier stamp."""
    path = tmp_path / "settings.toml"
    # Both read before either writes, if the lock lets the second one in: it does not, and
    # the first stops waiting for it.
    both_read = threading.Barrier(2, timeout=1)
    read_stamps = store_module._read_stamps

    def read_then_meet(stamps: Path) -> dict[str, int]:
        found = read_stamps(stamps)
        with contextlib.suppress(threading.BrokenBarrierError):
            both_read.wait()
        return found

    monkeypatch.setattr(store_module, "_read_stamps", read_then_meet)
    first, second = (SettingsStore(Settings(), path, secrets=SecretStore({})) for _ in "12")
    await asyncio.gather(
        first.store_secret(Secret.OPENAI_API_KEY, "sk-stored-at-once-0123456789abcdef"),
        second.store_secret(Secret.DISCORD_TOKEN, TOKEN),
    )
    stamps = json.loads((tmp_path / ".secrets-stored.json").read_text())
    assert set(stamps) == {"OPENAI_API_KEY", "DISCORD_TOKEN"}


async def test_a_secret_stamp_waits_for_the_settings_lock_then_says_so(
    tmp_path: Path, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "settings.toml"
    monkeypatch.setattr(store_module, "LOCK_TIMEOUT", 0.3)
    events = EventBus()
    store = SettingsStore(Settings(), path, events=events, secrets=SecretStore({}))
    announced = events.subscribe(SettingsChanged)
    writing = FileLock(tmp_path / ".settings.toml.lock")  # held by another process
    with writing, pytest.raises(SettingsError, match="Another program has held") as raised:
        await store.store_secret(Secret.DISCORD_TOKEN, TOKEN)
    # Here it is known (the message speaks of the other windows only) ...
    assert (event := announced.get_nowait()) is not None and event.keys == {"DISCORD_TOKEN"}
    message = str(raised.value)  # ... and elsewhere it is not
    assert "the secret is stored, but any other Voxdesk window" in message
    assert "will not see it until it is restarted" in message and TOKEN not in message
    assert memory_keyring.passwords == {("voxdesk", "DISCORD_TOKEN"): TOKEN}
    assert not (tmp_path / ".secrets-stored.json").exists()


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("speech.whisper_threads", 100_000, "less than or equal to 64"),
        ("speech.whisper_threads", 5000, "less than or equal to 64"),
        ("audio.max_seconds", float("inf"), "finite"),
        ("audio.max_seconds", float("nan"), "finite"),
        ("audio.max_seconds", 10**9, "less than or equal"),
        ("assistant.temperature", float("nan"), "finite"),
        ("speech.language", "xx", "does not know the language 'xx'"),
        ("speech.language", "en US", "not a language tag"),
        ("discord.language", "zz-ZZ", "discord.language"),
        ("discord.guild_languages", {"1": "xx"}, "discord.guild_languages.1"),
        ("discord.reply_channels", [-5], "greater than 0"),
        ("openai.max_retries", 1000, "less than or equal to 10"),
    ],
)
async def test_settings_that_would_break_a_library_are_refused(
    tmp_path: Path, key: str, value: object, problem: str
) -> None:
    path = tmp_path / "settings.toml"
    settings = Settings()
    with pytest.raises(SettingsError, match="Not saved") as raised:
        await SettingsStore(settings, path).set(key, value)
    assert problem in str(raised.value)
    assert not path.exists() and settings == Settings()


def test_languages_are_checked_against_the_engines_list() -> None:
    assert Settings(speech={"engine": "google", "language": "zu-ZA"})  # Google knows Zulu
    with pytest.raises(ValueError, match="whisper engine does not know the language 'zu-ZA'"):
        Settings(speech={"language": "zu-ZA"})
    with pytest.raises(ValueError, match="sphinx engine knows English only, not 'de'"):
        Settings(speech={"engine": "sphinx", "language": "de"}, discord={"language": "en-US"})
    assert Settings(speech={"language": "ru_RU"}).speech.language == "ru_RU"
    assert Settings(speech={"language": "auto"}, discord={"language": "haw"})


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (codecs.BOM_UTF8 + b'[speech]\nlanguage = "ru"\n', "starts with a byte order mark"),
        ('[speech]\nlanguage = "ru"\n'.encode("utf-16"), "is UTF-16, not UTF-8"),
        (b'[speech]\nlanguage = "\xe9"\n', "is not UTF-8 (byte 0xe9 at offset 21)"),
    ],
)
def test_a_file_that_is_not_plain_utf8_is_named(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    path = tmp_path / "settings.toml"
    path.write_bytes(content)
    with pytest.raises(SettingsError, match=re.escape(problem)) as raised:
        load_settings(path)
    assert str(path) in str(raised.value) and "\n" not in raised.value.describe()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("assistant.system_prompt", "Answer with sk-proj-abcdefghijklmnopqrstuvwxyz0123"),
        ("discord.trainer_role", TOKEN),
        ("discord.guild_datasets", {"1": TOKEN}),
        ("assistant.model", "local-server-key-42"),  # the configured key, whatever its shape
    ],
)
async def test_a_secret_looking_value_is_sent_to_the_keyring(
    tmp_path: Path, key: str, value: object
) -> None:
    path = tmp_path / "settings.toml"
    store = SettingsStore(
        Settings(), path, secrets=SecretStore({"OPENAI_API_KEY": "local-server-key-42"})
    )
    with pytest.raises(SettingsError, match="looks like a secret") as raised:
        await store.set(key, value)
    message = raised.value.describe()
    assert "config set-secret" in message and "keyring" in message
    assert str(value) not in message and TOKEN not in message
    assert not path.exists()
    await store.set("assistant.system_prompt", "Explain bearer authentication and sk-learn.")
    assert load_settings(path).assistant.system_prompt  # words about secrets are no secret


async def test_storing_a_secret_announces_it_without_its_value(
    memory_keyring: MemoryKeyring,
) -> None:
    events = EventBus()
    changes = events.subscribe(SettingsChanged)
    store = SettingsStore(Settings(), events=events, secrets=SecretStore({}))
    await store.store_secret(Secret.DISCORD_TOKEN, TOKEN)
    assert (await changes.get()).keys == {"DISCORD_TOKEN"}
    assert memory_keyring.passwords == {("voxdesk", "DISCORD_TOKEN"): TOKEN}


def test_secrets_never_reach_the_settings_file(tmp_path: Path) -> None:
    assert "key" not in " ".join(Settings.model_fields)
    assert not any("token" in name or "key" in name for name in OpenAISettings.model_fields)


def test_secret_from_environment_first() -> None:
    store = SecretStore({"OPENAI_API_KEY": "  sk-from-env-123456789  "})
    found = store.get(Secret.OPENAI_API_KEY)
    assert found is not None and found.value == "sk-from-env-123456789"
    assert found.source == "environment"
    assert "sk-from-env" not in repr(found) and "sk-from-env" not in str(found)
    assert found.masked() == "****6789 (from environment)"


def test_secret_from_keyring(memory_keyring: MemoryKeyring) -> None:
    store = SecretStore({})
    store.store(Secret.DISCORD_TOKEN, "discord-token-abcdefghijkl")
    assert memory_keyring.passwords == {("voxdesk", "DISCORD_TOKEN"): "discord-token-abcdefghijkl"}
    found = store.get(Secret.DISCORD_TOKEN)
    assert found is not None and found.source == "keyring"
    store.forget(Secret.DISCORD_TOKEN)
    store.forget(Secret.DISCORD_TOKEN)  # forgetting twice is fine
    assert store.get(Secret.DISCORD_TOKEN) is None


def test_missing_secret_says_how_to_set_it() -> None:
    with pytest.raises(MissingSecret, match="No Discord bot token") as raised:
        SecretStore({}).require(Secret.DISCORD_TOKEN)
    assert "DISCORD_TOKEN" in (raised.value.hint or "")


def test_without_a_keyring_backend_the_environment_still_works() -> None:
    store = SecretStore({"DISCORD_TOKEN": "token-from-env-xyz123"})
    assert store.keyring_problem() is not None  # the test default: no backend
    assert store.require(Secret.DISCORD_TOKEN) == "token-from-env-xyz123"
    with pytest.raises(KeyringUnavailable, match="No OS keyring backend"):
        store.store(Secret.OPENAI_API_KEY, "sk-anything-123456")


def test_log_records_are_redacted_whoever_logs_them() -> None:
    secret = "sk-live-redact-me-0123456789"
    register_secret(secret)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(SecretRedactingFilter())
    logger = logging.getLogger("some.http.library")
    logger.addHandler(handler)
    try:
        logger.warning("Authorization: Bearer %s", secret)
        try:
            raise RuntimeError(f"request with {secret} failed")
        except RuntimeError:
            logger.exception("boom")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert secret not in output
    assert output.count(REDACTED) == 2  # in the message and in the exception line


async def test_speech_engines_are_made_again_when_their_settings_change(tmp_path: Path) -> None:
    services = Services(Settings(), SecretStore({}), settings_path=tmp_path / "settings.toml")
    first = services.speech.transcriber()
    await services.settings_store.set("speech.language", "de")
    assert services.speech.transcriber() is first  # a model loads once
    await services.settings_store.set("speech.whisper_threads", 2)
    renewed = services.speech.transcriber()
    assert renewed is not first and renewed._threads == 2  # type: ignore[attr-defined]
