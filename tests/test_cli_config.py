"""``voxdesk config`` as a user runs it: real processes sharing one settings file."""

from __future__ import annotations

import asyncio
import codecs
import os
from pathlib import Path

from tests.conftest import MemoryKeyring
from tests.test_cli import assert_one_line_error, voxdesk
from voxdesk.core.config import Settings, SettingsStore, load_settings
from voxdesk.core.events import EventBus


def settings_path() -> Path:
    return Path(os.environ["VOXDESK_CONFIG"])


async def test_concurrent_writers_keep_every_change() -> None:
    channels = range(1, 13)
    runs = await asyncio.gather(*(voxdesk("config", "set", *_setting(n)) for n in channels))
    assert [run.code for run in runs] == [0] * 12, [run.err for run in runs if run.code]
    saved = load_settings(settings_path())
    assert {n: _value(saved, n) for n in channels} == {n: _setting(n)[1] for n in channels}


def _setting(n: int) -> tuple[str, str]:
    """Twelve different settings, one for each process."""
    keys = ["discord.guild_languages", "speech.language", "speech.whisper_threads",
            "audio.max_seconds", "audio.decode_timeout", "speech.network_timeout",
            "openai.timeout", "openai.max_retries", "assistant.history_tokens",
            "assistant.max_reply_tokens", "discord.prefix", "discord.cooldown_seconds"]  # fmt: skip
    values = ['{"1": "en"}', "de", "3", "60.0", "30.0", "20.0",
              "90.0", "4", "2000", "300", "?", "5.0"]  # fmt: skip
    return keys[n - 1], values[n - 1]


def _value(settings: object, n: int) -> str:
    section, _, name = _setting(n)[0].partition(".")
    value = getattr(getattr(settings, section), name)
    return '{"1": "en"}' if isinstance(value, dict) else str(value)


async def test_an_environment_override_is_not_saved() -> None:
    run = await voxdesk(
        "config", "set", "speech.language", "de", env={"VOXDESK_SPEECH__LANGUAGE": "en"}
    )
    assert run.code == 0, run.err
    assert "VOXDESK_SPEECH__LANGUAGE is set and overrides it" in run.err
    run = await voxdesk(
        "config", "set", "speech.language", "de", env={"VOXDESK_AUDIO__MAX_BYTES": "1"}
    )
    assert run.code == 0, run.err
    assert settings_path().read_text() == '[speech]\nlanguage = "de"\n'


async def test_values_that_would_break_speech_are_one_line_each() -> None:
    for key, value, words in [
        ("speech.whisper_threads", "100000", ("speech.whisper_threads", "64")),
        ("audio.max_seconds", "inf", ("audio.max_seconds", "finite")),
        ("speech.language", "xx", ("speech.language", "'xx'")),
    ]:
        assert_one_line_error(await voxdesk("config", "set", key, value), "Not saved", *words)
    assert not settings_path().exists()


async def test_a_value_may_start_with_a_dash() -> None:
    """A negative number is a value for the validator to judge, not an unknown option."""
    run = await voxdesk("config", "set", "audio.max_seconds", "-5")
    assert_one_line_error(run, "Not saved", "audio.max_seconds", "greater than 0")
    run = await voxdesk("config", "set", "discord.prefix", "-x")
    assert run.code == 0, run.err
    assert load_settings(settings_path()).discord.prefix == "-x"


async def test_lists_and_mappings_are_typed_as_on_the_settings_page() -> None:
    """The window takes 'piper, espeak' and '123: en-US'; the CLI took JSON only, and refused
    them as 'not a valid list'."""
    run = await voxdesk("config", "set", "tts.fallbacks", "piper, espeak")
    assert run.code == 0, run.err
    run = await voxdesk("config", "set", "discord.guild_languages", "123: en-US, 456: ru-RU")
    assert run.code == 0, run.err
    saved = load_settings(settings_path())
    assert saved.tts.fallbacks == ["piper", "espeak"]
    assert saved.discord.guild_languages == {"123": "en-US", "456": "ru-RU"}
    run = await voxdesk("config", "set", "discord.guild_languages", "123 en-US")
    assert_one_line_error(run, "Not saved", "discord.guild_languages", "'123 en-US' is not a pair")
    run = await voxdesk("config", "set", "tts.fallbacks", '["espeak"]')  # JSON still works
    assert run.code == 0 and load_settings(settings_path()).tts.fallbacks == ["espeak"]


async def test_a_base_url_must_be_http() -> None:
    for value in ("notaurl", "ftp://files.example/v1", "https://", "http://127.0.0.1:x/v1"):
        run = await voxdesk("config", "set", "openai.base_url", value)
        assert_one_line_error(run, "Not saved", f"openai.base_url: '{value}' is not an http(s) URL")
    assert not settings_path().exists()


async def test_a_file_with_a_base_url_refused_today_still_loads_and_can_be_mended() -> None:
    """Any base URL was saved before they were checked: such a file stopped every command,
    the bot and the window, and even the `config set` that would mend it."""
    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text('[openai]\nbase_url = "localhost:8080/v1"\n', encoding="utf-8")
    run = await voxdesk("config", "show")
    assert run.code == 0 and 'base_url = "localhost:8080/v1"' in run.out, run.err
    run = await voxdesk("config", "set", "openai.base_url", "none")
    assert run.code == 0, run.err
    assert load_settings(settings_path()).openai.base_url is None


async def test_a_base_urls_password_is_never_shown() -> None:
    run = await voxdesk("config", "set", "openai.base_url", "http://alice:hunter22@127.0.0.1:x/")
    assert_one_line_error(run, "'http://[redacted]@127.0.0.1:x/' is not an http(s) URL")
    url = "http://alice:hunter22@127.0.0.1:9/v1"
    run = await voxdesk("config", "set", "openai.base_url", url)
    assert run.code == 0, run.err
    assert "Saved openai.base_url = 'http://[redacted]@127.0.0.1:9/v1'" in run.err
    assert load_settings(settings_path()).openai.base_url == url  # the file keeps it: it works
    run = await voxdesk("-vv", "config", "show")
    assert run.code == 0, run.err
    assert 'base_url = "http://[redacted]@127.0.0.1:9/v1"' in run.out
    assert "hunter22" not in run.out + run.err


async def test_a_secret_in_a_setting_is_refused_and_never_shown() -> None:
    key = "sk-proj-clisecretabcdefghijklmnopqrstu"
    run = await voxdesk("config", "set", "assistant.system_prompt", f"key {key}")
    assert_one_line_error(run, "looks like a secret", "config set-secret")
    assert key not in run.err + run.out
    assert not settings_path().exists()


async def test_a_settings_file_with_a_bom_is_one_line() -> None:
    settings_path().parent.mkdir(parents=True)
    settings_path().write_bytes(codecs.BOM_UTF8 + b'[speech]\nlanguage = "ru"\n')
    for command in (("config", "show"), ("config", "set", "speech.language", "de"), ()):
        run = await voxdesk(*command, env={"QT_QPA_PLATFORM": "offscreen"})  # (): the window
        assert_one_line_error(run, "byte order mark", "UTF-8")


def test_a_secret_stored_here_is_announced_to_an_open_window(memory_keyring: MemoryKeyring) -> None:
    """``config set-secret`` stamps the settings folder, which an open window follows."""
    from typer.testing import CliRunner

    from voxdesk.core.cli import build_app

    window = SettingsStore(Settings(), settings_path(), events=EventBus())
    asyncio.run(window.start_following())
    result = CliRunner().invoke(
        build_app(), ["config", "set-secret", "DISCORD_TOKEN", "--value", "a-new-token-1234"]
    )
    assert result.exit_code == 0, result.output
    assert memory_keyring.get_password("voxdesk", "DISCORD_TOKEN") == "a-new-token-1234"
    assert asyncio.run(window.follow_file()) == {"DISCORD_TOKEN"}
