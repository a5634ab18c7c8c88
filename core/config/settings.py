"""Voxdesk settings: one pydantic schema, stored as TOML, overridable by environment.

Precedence, highest first: ``VOXDESK_<SECTION>__<KEY>`` environment variables, the TOML file,
the defaults below. Secrets never live here (see ``voxdesk.core.config.secrets``).
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any, Literal

import platformdirs
import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from voxdesk.core.errors import VoxdeskError

APP_NAME = "voxdesk"
CONFIG_PATH_VARIABLE = "VOXDESK_CONFIG"


class SettingsError(VoxdeskError):
    """The settings file cannot be read or holds invalid values."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class AudioSettings(_Section):
    max_bytes: int = Field(
        25 * 1024 * 1024,
        gt=0,
        description="Largest audio file accepted, in bytes.",
        json_schema_extra={"unit": "bytes"},
    )
    max_seconds: float = Field(
        15 * 60,
        gt=0,
        description="Longest audio accepted, in seconds of sound.",
        json_schema_extra={"unit": "s"},
    )
    decode_timeout: float = Field(
        120,
        gt=0,
        description="Seconds ffmpeg may spend decoding one file before it is stopped.",
        json_schema_extra={"unit": "s"},
    )
    input_device: str | None = Field(
        None, description="Microphone to record from (name or index); empty for the default."
    )


class SpeechSettings(_Section):
    engine: Literal["whisper", "google", "openai", "sphinx"] = Field(
        "whisper", description="Speech-to-text engine. 'whisper' runs offline."
    )
    language: str = Field(
        "auto",
        description="Language of the speech, e.g. 'ru-RU' or 'en'; 'auto' lets Whisper detect it.",
    )
    google_language: str = Field(
        "ru-RU",
        description="Language for Google when 'language' is 'auto' (the original bot used ru-RU).",
    )
    whisper_model: str = Field(
        "base",
        description="Bundled Whisper model ('base' or 'tiny.en') or a CTranslate2 model folder.",
    )
    whisper_threads: int = Field(
        0,
        ge=0,
        description="CPU threads for Whisper; 0 uses all cores.",
        json_schema_extra={"zero": "all cores"},
    )
    network_timeout: float = Field(
        30,
        gt=0,
        description="Seconds a network engine may take per request.",
        json_schema_extra={"unit": "s"},
    )


class TtsSettings(_Section):
    engine: Literal["gtts", "espeak"] = Field(
        "gtts", description="Text-to-speech engine. 'espeak' runs offline."
    )
    language: str = Field("ru", description="Language of the voice, e.g. 'ru' or 'en'.")
    format: Literal["ogg", "mp3", "wav"] = Field(
        "ogg", description="Audio format of spoken replies (ogg/opus suits Discord)."
    )


class OpenAISettings(_Section):
    base_url: str | None = Field(
        None, description="OpenAI-compatible API address; empty for api.openai.com."
    )
    transcription_model: str = Field("whisper-1", description="Model for the transcription API.")
    timeout: float = Field(
        60, gt=0, description="Seconds an OpenAI request may take.", json_schema_extra={"unit": "s"}
    )
    max_retries: int = Field(2, ge=0, description="Retries for transient OpenAI errors.")
    job_poll_seconds: float = Field(
        10,
        gt=0,
        description="Seconds between checks on a running fine-tuning job.",
        json_schema_extra={"unit": "s"},
    )


class AssistantSettings(_Section):
    model: str = Field(
        "gpt-4o-mini", description="Model for replies: a base model or a fine-tuned 'ft:' one."
    )
    system_prompt: str | None = Field(
        None, description="System instruction for replies; empty for the bundled default."
    )
    history_tokens: int = Field(
        3000,
        ge=200,
        description="Tokens of earlier conversation sent with each message.",
        json_schema_extra={"unit": "tokens"},
    )
    max_reply_tokens: int = Field(
        600, ge=16, description="Longest reply, in tokens.", json_schema_extra={"unit": "tokens"}
    )
    temperature: float = Field(0.7, ge=0, le=2, description="Higher is more varied.")


class DiscordSettings(_Section):
    prefix: str = Field("!", min_length=1, description="Prefix of text commands.")
    trainer_role: str | None = Field(
        None,
        description="Role (name or id) that may train, export and edit the instruction; "
        "members with Manage Server always may.",
    )
    reply_channels: list[int] = Field(
        default_factory=list, description="Channel ids where every message gets a reply."
    )
    reply_to_mentions: bool = Field(True, description="Reply when the bot is mentioned.")
    reply_in_dms: bool = Field(True, description="Reply to direct messages.")
    auto_transcribe: bool = Field(True, description="Transcribe voice messages and audio files.")
    speak_replies: bool = Field(
        True, description="Also speak replies in a voice channel the bot has joined."
    )
    guild_languages: dict[str, str] = Field(
        default_factory=dict, description='Speech language per guild id, e.g. {"123": "en-US"}.'
    )
    language: str = Field("ru-RU", description="Speech language where no guild setting applies.")
    dataset: str = Field(
        "discord",
        description="Dataset that corrections and feedback go to, where a guild chose none.",
    )
    guild_datasets: dict[str, str] = Field(
        default_factory=dict,
        description="Dataset per guild id, chosen there with !select_dataset.",
    )
    fine_tune_model: str = Field(
        "gpt-4o-mini-2024-07-18", description="Base model that !train fine-tunes."
    )
    cooldown_seconds: float = Field(
        3,
        ge=0,
        description="Per-user pause between transcriptions or replies.",
        json_schema_extra={"unit": "s"},
    )
    sharded: bool = Field(False, description="Use Discord's sharding (for very large bots).")
    sync_commands: bool = Field(False, description="Register slash commands at start-up.")

    def dataset_for(self, guild_id: int | None) -> str:
        """Where corrections and feedback from that guild go (None: direct messages)."""
        return self.guild_datasets.get(str(guild_id or 0)) or self.dataset


class Settings(BaseSettings):
    """Every setting of Voxdesk, grouped by concern."""

    model_config = SettingsConfigDict(
        env_prefix="VOXDESK_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_assignment=True,
    )

    audio: AudioSettings = Field(default_factory=AudioSettings)
    speech: SpeechSettings = Field(default_factory=SpeechSettings)
    tts: TtsSettings = Field(default_factory=TtsSettings)
    openai: OpenAISettings = Field(default_factory=OpenAISettings)
    assistant: AssistantSettings = Field(default_factory=AssistantSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values arrive as init arguments; the environment must win over them.
        return (env_settings, init_settings)


def default_settings_path() -> Path:
    """``$VOXDESK_CONFIG`` or ``settings.toml`` in the platform's user config folder."""
    override = os.environ.get(CONFIG_PATH_VARIABLE)
    if override:
        return Path(override).expanduser()
    return platformdirs.user_config_path(APP_NAME) / "settings.toml"


def load_settings(path: Path | None = None) -> Settings:
    """Read the settings file (a missing file means defaults) and apply the environment."""
    path = path or default_settings_path()
    data = _read_toml(path)
    try:
        return Settings(**data)
    except ValidationError as error:
        raise SettingsError(
            f"Invalid settings in {path} or VOXDESK_* environment: {summarize_validation(error)}",
            hint="Fix the value or delete the line to use the default.",
        ) from error


def save_setting(section: str, name: str, value: Any, path: Path | None = None) -> None:
    """Change one setting in the settings file, leaving the others there as they are."""
    settings = load_settings(path)
    setattr(getattr(settings, section), name, value)
    save_settings(settings, path)


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Write the settings atomically; unset (None) values are left out, TOML has no null."""
    path = path or default_settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = tomli_w.dumps(settings.model_dump(mode="json", exclude_none=True))
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".settings-", suffix=".toml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        Path(temp_name).replace(path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return path


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(
            f"Settings file {path} is not valid TOML: {error}.",
            hint="Fix the file or delete it to start from defaults.",
        ) from error
    except OSError as error:
        raise SettingsError(f"Cannot read settings file {path}: {error.strerror}.") from error


def summarize_validation(error: ValidationError) -> str:
    """Every problem pydantic found, as one line: 'audio.max_bytes: Input should be...'."""
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)
