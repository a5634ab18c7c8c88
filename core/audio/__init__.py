"""Audio in and out of core: decoding, PCM, levels, live sources."""

from voxdesk.core.audio.decode import DecodeLimits, RawFormat, decode_to_pcm
from voxdesk.core.audio.errors import (
    AudioError,
    AudioTooLarge,
    AudioTooLong,
    CorruptAudio,
    DecoderMissing,
    DecodeTimeout,
    EmptyAudio,
    NoAudioStream,
    UnsupportedAudio,
)
from voxdesk.core.audio.levels import Level, measure
from voxdesk.core.audio.pcm import SAMPLE_RATE, Pcm
from voxdesk.core.audio.sources import (
    AudioSource,
    FileSource,
    InputDevice,
    MicrophoneSource,
    MicrophoneUnavailable,
    list_input_devices,
    record,
)

__all__ = [
    "SAMPLE_RATE",
    "AudioError",
    "AudioSource",
    "AudioTooLarge",
    "AudioTooLong",
    "CorruptAudio",
    "DecodeLimits",
    "DecodeTimeout",
    "DecoderMissing",
    "EmptyAudio",
    "FileSource",
    "InputDevice",
    "Level",
    "MicrophoneSource",
    "MicrophoneUnavailable",
    "NoAudioStream",
    "Pcm",
    "RawFormat",
    "UnsupportedAudio",
    "decode_to_pcm",
    "list_input_devices",
    "measure",
    "record",
]
