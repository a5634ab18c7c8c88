"""Voxdesk settings: one pydantic schema, stored as TOML, overridable by environment.

Precedence, highest first: ``VOXDESK_<SECTION>__<KEY>`` environment variables, the TOML file,
the defaults below. Secrets never live here (see ``voxdesk.core.config.secrets``). Every value
that reaches a library is bounded here, so a setting that validates is a setting that works;
changes go through ``voxdesk.core.config.store.SettingsStore``.
"""

from __future__ import annotations

import codecs
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from voxdesk.core.errors import VoxdeskError

APP_NAME = "voxdesk"
CONFIG_PATH_VARIABLE = "VOXDESK_CONFIG"
# Whisper (CTranslate2) starts this many threads per transcription: 5,000 hang the machine and
# 100,000 crash the process. More threads than cores only slow it down; 64 covers big machines.
MAX_WHISPER_THREADS = 64
Voice = Literal["gtts", "piper", "espeak"]
# Discord ids are 64-bit snowflakes; TOML integers are signed 64-bit.
DiscordId = Annotated[int, Field(gt=0, lt=2**63)]
# What a voice message addressed to the bot gets besides its transcript.
VoiceReplies = Literal["off", "text", "text+speech"]


class SettingsError(VoxdeskError):
    """The settings file cannot be read or holds invalid values."""


class _Section(BaseModel):
    # inf and nan pass every bound and then break the library they reach (OverflowError).
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class AudioSettings(_Section):
    max_bytes: int = Field(
        25 * 1024 * 1024,
        gt=0,
        le=2_000_000_000,  # ffmpeg's output of more would not fit in memory
        description="Largest audio file accepted, in bytes.",
        json_schema_extra={"unit": "bytes"},
    )
    max_seconds: float = Field(
        15 * 60,
        gt=0,
        le=4 * 3600,  # 4 hours of 16 kHz samples are 900 MB in memory already
        description="Longest audio accepted, in seconds of sound.",
        json_schema_extra={"unit": "s"},
    )
    decode_timeout: float = Field(
        120,
        gt=0,
        le=3600,
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
        description="Whisper model: bundled ('base', 'tiny.en'), downloaded "
        "(`voxdesk models list`), or the path of a CTranslate2 model folder.",
    )
    whisper_threads: int = Field(
        0,
        ge=0,
        le=MAX_WHISPER_THREADS,
        description="CPU threads for Whisper's encoder (its decoder uses one); 0 uses all cores.",
        json_schema_extra={"zero": "all cores"},
    )
    network_timeout: float = Field(
        30,
        gt=0,
        le=600,
        description="Seconds a network engine may take per request.",
        json_schema_extra={"unit": "s"},
    )
    parallel_files: int = Field(
        default_factory=lambda: _default_parallel_files(os.cpu_count() or 1),
        ge=1,
        le=16,  # each file holds its decoded audio in memory
        description="Files of the queue transcribed at once (Record page, voxdesk transcribe).",
    )

    @field_validator("whisper_model")
    @classmethod
    def _a_whisper_model(cls, value: str) -> str:
        # core.stt imports these settings: its model table is imported when first needed.
        from voxdesk.core.stt.whisper_models import whisper_model_problem

        if problem := whisper_model_problem(value):
            raise PydanticCustomError("whisper_model", problem)
        return value


def _default_parallel_files(cores: int) -> int:
    """One file at a time up to 4 cores: Whisper already keeps every core busy with one."""
    return 1 if cores <= 4 else min(cores // 4, 4)


class TtsSettings(_Section):
    engine: Voice = Field(
        "gtts", description="Preferred voice: 'gtts' (Google, online), 'piper' or 'espeak'."
    )
    fallbacks: list[Voice] = Field(
        default_factory=lambda: list[Voice](["piper", "espeak"]),
        description="Voices tried in order when the preferred one cannot speak "
        "(offline, throttled, or no voice for the language).",
    )
    piper_voice: str = Field(
        "",
        description="Piper voice to speak with (`voxdesk models list`); empty: the best "
        "installed one for the language.",
    )
    language: str = Field(
        "auto",
        description="Language of the voice, e.g. 'ru' or 'en'; 'auto': each text's own.",
    )
    format: Literal["ogg", "mp3", "wav"] = Field(
        "ogg", description="Audio format of spoken replies (ogg/opus suits Discord)."
    )


class OpenAISettings(_Section):
    base_url: str | None = Field(
        None, description="OpenAI-compatible API address; empty for api.openai.com."
    )
    transcription_model: str = Field("whisper-1", description="Model for the transcription API.")
    timeout: float = Field(
        60,
        gt=0,
        le=3600,  # uploading a large training file takes long
        description="Seconds an OpenAI request may take.",
        json_schema_extra={"unit": "s"},
    )
    max_retries: int = Field(2, ge=0, le=10, description="Retries for transient OpenAI errors.")
    job_poll_seconds: float = Field(
        10,
        gt=0,
        le=3600,
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
        le=1_000_000,  # the largest context windows
        description="Tokens of earlier conversation sent with each message.",
        json_schema_extra={"unit": "tokens"},
    )
    max_reply_tokens: int = Field(
        600,
        ge=16,
        le=128_000,  # the most any OpenAI model writes in one reply
        description="Longest reply, in tokens.",
        json_schema_extra={"unit": "tokens"},
    )
    temperature: float = Field(0.7, ge=0, le=2, description="Higher is more varied.")


class DiscordSettings(_Section):
    prefix: str = Field("!", min_length=1, max_length=16, description="Prefix of text commands.")
    trainer_role: str | None = Field(
        None,
        description="Role (name or id) that may train, export and edit the instruction; "
        "members with Manage Server always may.",
    )
    reply_channels: list[DiscordId] = Field(
        default_factory=list, description="Channel ids where every message gets a reply."
    )
    reply_to_mentions: bool = Field(True, description="Reply when the bot is mentioned.")
    reply_in_dms: bool = Field(True, description="Reply to direct messages.")
    auto_transcribe: bool = Field(True, description="Transcribe voice messages and audio files.")
    speak_replies: bool = Field(
        True, description="Also speak replies in a voice channel the bot has joined."
    )
    guild_languages: dict[str, str] = Field(
        default_factory=dict,
        description="Speech language per guild id, e.g. 123456789: en-US, 987654321: ru-RU.",
    )
    language: str = Field(
        "auto",
        description="Speech language of voice messages where no guild setting applies and "
        "speech.language is 'auto'; 'auto' lets Whisper detect it (Google takes "
        "speech.google_language).",
    )
    dataset: str = Field(
        "discord",
        description="Dataset that corrections and feedback go to, where a guild chose none.",
    )
    guild_datasets: dict[str, str] = Field(
        default_factory=dict,
        description="Dataset per guild id, chosen there with !select_dataset.",
    )
    voice_replies: VoiceReplies = Field(
        "text+speech",
        description="What a voice message addressed to the bot gets besides its transcript, "
        "where a guild chose nothing: 'off', 'text' (the answer), or 'text+speech' (the answer, "
        "also spoken when the author is in the bot's voice channel). Needs auto_transcribe.",
    )
    guild_voice_replies: dict[str, VoiceReplies] = Field(
        default_factory=dict,
        description="voice_replies per guild id, chosen there with !voice_replies.",
    )
    translate_captions: bool = Field(
        False,
        description="Voice channel captions in English, whatever is spoken (Whisper's translate "
        "task), where a guild chose nothing.",
    )
    guild_translate_captions: dict[str, bool] = Field(
        default_factory=dict,
        description="translate_captions per guild id, chosen there with !translate_captions.",
    )
    fine_tune_model: str = Field(
        "gpt-4o-mini-2024-07-18", description="Base model that !train fine-tunes."
    )
    cooldown_seconds: float = Field(
        3,
        ge=0,
        le=3600,
        description="Per-user pause between transcriptions or replies.",
        json_schema_extra={"unit": "s"},
    )
    listen_opt_outs: list[int] = Field(
        default_factory=list,
        description="Members (ids) who opted out with !optout: their voice is never transcribed.",
    )
    wake_name: str | None = Field(
        None,
        max_length=64,
        description="What a member says first to talk to the bot in a voice channel it listens "
        "to; empty for the bot's display name.",
    )
    max_listened_speakers: int = Field(
        3,
        ge=1,
        le=25,
        description="Members transcribed at once in a voice channel; others wait their turn.",
    )
    sharded: bool = Field(False, description="Use Discord's sharding (for very large bots).")
    sync_commands: bool = Field(
        True, description="Register slash commands and menus with Discord when they change."
    )

    def dataset_for(self, guild_id: int | None) -> str:
        """Where corrections and feedback from that guild go (None: direct messages)."""
        return self.guild_datasets.get(str(guild_id or 0)) or self.dataset

    def voice_replies_for(self, guild_id: int | None) -> VoiceReplies:
        """What voice messages in that guild get besides the transcript (None: DMs)."""
        return self.guild_voice_replies.get(str(guild_id or 0), self.voice_replies)

    def translates_captions(self, guild_id: int) -> bool:
        """Whether voice channel captions in that guild are translated into English."""
        return self.guild_translate_captions.get(str(guild_id), self.translate_captions)


class SettingsFile(BaseModel):
    """Every setting of Voxdesk, grouped by concern: what the settings file may hold."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    audio: AudioSettings = Field(default_factory=AudioSettings)
    speech: SpeechSettings = Field(default_factory=SpeechSettings)
    tts: TtsSettings = Field(default_factory=TtsSettings)
    openai: OpenAISettings = Field(default_factory=OpenAISettings)
    assistant: AssistantSettings = Field(default_factory=AssistantSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)

    @model_validator(mode="after")
    def _languages_the_engine_knows(self) -> Self:
        # core.stt imports these settings: its language table is imported when first needed.
        from voxdesk.core.stt.languages import language_problem

        engine, discord = self.speech.engine, self.discord
        tags = {"speech.language": self.speech.language, "discord.language": discord.language}
        tags |= {f"discord.guild_languages.{g}": tag for g, tag in discord.guild_languages.items()}
        if engine == "google":
            tags["speech.google_language"] = self.speech.google_language
        problems = [f"{key}: {why}" for key, tag in tags.items()
                    if (why := language_problem(tag, engine))]  # fmt: skip
        if problems:
            raise PydanticCustomError("language", "; ".join(problems))
        return self


class Settings(BaseSettings, SettingsFile):
    """The settings in force: the file's values with the environment's on top."""

    model_config = SettingsConfigDict(
        env_prefix="VOXDESK_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_assignment=True,
    )

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
    return settings_in_force(read_settings_file(path), path)


def settings_in_force(data: dict[str, Any], path: Path) -> Settings:
    """The file's ``data`` with the environment on top, validated."""
    try:
        return Settings(**data)
    except ValidationError as error:
        raise SettingsError(
            f"Invalid settings in {path} or VOXDESK_* environment: {summarize_validation(error)}.",
            hint="Fix the value or delete the line to use the default.",
        ) from error


def read_settings_file(path: Path) -> dict[str, Any]:
    """The file's TOML as it is (no defaults, no environment); a missing file is empty."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise SettingsError(f"Cannot read settings file {path}: {error.strerror}.") from error
    try:
        return tomllib.loads(_text(raw, path))
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(
            f"Settings file {path} is not valid TOML: {error}.",
            hint="Fix the file or delete it to start from defaults.",
        ) from error


def _text(raw: bytes, path: Path) -> str:
    """TOML is UTF-8 without a byte order mark; editors on Windows may save either."""
    hint = "Save it as UTF-8 without a byte order mark (BOM), or delete it to start from defaults."
    if raw.startswith(codecs.BOM_UTF8):
        raise SettingsError(f"Settings file {path} starts with a byte order mark (BOM).", hint=hint)
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise SettingsError(f"Settings file {path} is UTF-16, not UTF-8.", hint=hint)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SettingsError(
            f"Settings file {path} is not UTF-8 (byte {raw[error.start]:#04x} at offset "
            f"{error.start}).",
            hint=hint,
        ) from None


def summarize_validation(error: ValidationError) -> str:
    """Every problem pydantic found, as one line: 'audio.max_bytes: Input should be...'."""
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        parts.append(f"{where}: {item['msg']}" if where else item["msg"])
    return "; ".join(parts)
