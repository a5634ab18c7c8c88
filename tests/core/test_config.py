"""Settings (TOML + environment), secrets (environment + keyring), and redaction from logs."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from tests.conftest import MemoryKeyring
from voxdesk.core.config import (
    MissingSecret,
    OpenAISettings,
    Secret,
    SecretStore,
    Settings,
    SettingsError,
    load_settings,
    save_settings,
)
from voxdesk.core.config.secrets import KeyringUnavailable
from voxdesk.core.logs import REDACTED, SecretRedactingFilter, register_secret


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


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    settings = Settings()
    settings.speech.language = "ru-RU"
    settings.openai.base_url = "http://127.0.0.1:9/v1"
    path = save_settings(settings, tmp_path / "deep" / "settings.toml")
    assert load_settings(path) == settings
    assert [p.name for p in path.parent.iterdir()] == ["settings.toml"]  # no temp left behind


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
