"""Settings (a TOML file, overridable by environment) and secrets (environment or keyring)."""

from voxdesk.core.config.secrets import MissingSecret, Secret, SecretStore, SecretValue
from voxdesk.core.config.settings import (
    AssistantSettings,
    AudioSettings,
    DiscordSettings,
    OpenAISettings,
    Settings,
    SettingsError,
    SpeechSettings,
    TtsSettings,
    default_settings_path,
    load_settings,
    save_setting,
    save_settings,
)

__all__ = [
    "AssistantSettings",
    "AudioSettings",
    "DiscordSettings",
    "MissingSecret",
    "OpenAISettings",
    "Secret",
    "SecretStore",
    "SecretValue",
    "Settings",
    "SettingsError",
    "SpeechSettings",
    "TtsSettings",
    "default_settings_path",
    "load_settings",
    "save_setting",
    "save_settings",
]
