"""Settings (a TOML file, overridable by environment, changed through one store) and secrets
(environment or keyring)."""

from voxdesk.core.config.secrets import MissingSecret, Secret, SecretStore, SecretValue
from voxdesk.core.config.settings import (
    AssistantSettings,
    AudioSettings,
    DiscordSettings,
    OpenAISettings,
    Settings,
    SettingsError,
    SettingsFile,
    SpeechSettings,
    TtsSettings,
    default_settings_path,
    load_settings,
)
from voxdesk.core.config.store import SettingsStore, SettingsWatch

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
    "SettingsFile",
    "SettingsStore",
    "SettingsWatch",
    "SpeechSettings",
    "TtsSettings",
    "default_settings_path",
    "load_settings",
]
