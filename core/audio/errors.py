"""Typed audio errors. Each message says what is wrong with the input and what to do."""

from voxdesk.core.errors import VoxdeskError


class AudioError(VoxdeskError):
    """Audio could not be used."""


class EmptyAudio(AudioError):
    """The input holds no bytes or no sound."""


class UnsupportedAudio(AudioError):
    """The input is not audio at all (an image named .ogg, a text file...)."""


class NoAudioStream(AudioError):
    """A media file that has no audio track."""


class CorruptAudio(AudioError):
    """Audio that is damaged or cut short."""


class AudioTooLarge(AudioError):
    """More bytes than the configured limit."""


class AudioTooLong(AudioError):
    """More seconds of sound than the configured limit."""


class DecodeTimeout(AudioError):
    """ffmpeg took longer than the configured timeout."""


class DecoderMissing(AudioError):
    """No ffmpeg binary could be found."""
