"""Every model and voice with where it stands here: bundled, downloaded, or to download."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from voxdesk.core.models.catalogue import Kind, catalogue
from voxdesk.core.models.store import ModelStore
from voxdesk.core.stt.whisper_models import BUNDLED, locate_model
from voxdesk.core.tts.piper import installed_voices


@dataclass(frozen=True)
class ModelRow:
    name: str
    kind: Kind
    status: str  # "bundled", "downloaded" or "downloadable"
    size_mb: float
    languages: str
    speed: float  # relative to Whisper large; 0 for voices


def overview(store: ModelStore | None = None) -> list[ModelRow]:
    """Whisper models then voices, each once, whatever is installed or not."""
    store = store or ModelStore()
    bundled_voices = {voice.name for voice in installed_voices(store) if voice.bundled}
    rows = []
    for entry in catalogue().values():
        if entry.name in BUNDLED or entry.name in bundled_voices:
            status = "bundled"
        elif store.installed_path(entry.name) is not None:
            status = "downloaded"
        else:
            status = "downloadable"
        rows.append(ModelRow(entry.name, entry.kind, status, entry.size_mb, entry.languages,
                             entry.speed))  # fmt: skip
    return rows


def model_path(name: str, store: ModelStore | None = None) -> Path:
    """Where a bundled or downloaded model or voice lies; a clear error when nowhere."""
    store = store or ModelStore()
    if name in BUNDLED:
        return locate_model(name).path
    for voice in installed_voices(store):
        if voice.name == name:
            return voice.model.parent
    return store.path(name)
