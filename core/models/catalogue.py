"""What can be downloaded: Whisper models and Piper voices on the Hugging Face hub.

The catalogue is data (``resources/models.toml``, with its sources); this module reads it once
and answers which entry a name means and which model suits a language.
"""

from __future__ import annotations

import importlib.resources
import tomllib
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

Kind = Literal["whisper", "voice"]

# The files a Whisper folder needs, as faster-whisper downloads them (utils.download_model).
WHISPER_FILES = ("config.json", "preprocessor_config.json", "model.bin", "tokenizer.json",
                 "vocabulary.*")  # fmt: skip
VOICE_FILES = ("*.onnx", "*.onnx.json", "MODEL_CARD")


@dataclass(frozen=True)
class CatalogueEntry:
    """One downloadable model or voice."""

    name: str
    kind: Kind
    repo: str
    folder: str  # the entry's folder in the repository ("" for its root)
    size_mb: float  # approximate; the hub's listing gives the exact size before a download
    languages: str  # "multilingual", or the one language it speaks ("en", "ru_RU")
    parameters: str = ""
    speed: float = 0.0  # relative to Whisper large (OpenAI's table); 0 for voices

    @property
    def patterns(self) -> tuple[str, ...]:
        return WHISPER_FILES if self.kind == "whisper" else VOICE_FILES

    @property
    def english_only(self) -> bool:
        return self.kind == "whisper" and self.languages == "en"


@cache
def catalogue() -> dict[str, CatalogueEntry]:
    """Every downloadable entry by name, Whisper models first, in the file's order."""
    data = _resource_toml("models.toml")
    entries: dict[str, CatalogueEntry] = {}
    for name, item in data.get("whisper", {}).items():
        entries[name] = CatalogueEntry(
            name, "whisper", item["repo"], item.get("folder", ""), item["size_mb"],
            item["languages"], item.get("parameters", ""), item.get("speed", 0.0),
        )  # fmt: skip
    for name, item in data.get("voice", {}).items():
        entries[name] = CatalogueEntry(
            name, "voice", item["repo"], item["folder"], item["size_mb"], item["language"]
        )
    return entries


def suggest_model(language: str | None) -> str:
    """The smallest Whisper model known to do well on ``language`` ('ru', 'ru-RU', 'en')."""
    data = _resource_toml("model_suggestions.toml")
    primary = (language or "").replace("_", "-").split("-")[0].lower()
    suggested: dict[str, str] = data["suggested"]
    return str(suggested.get(primary, data["fallback"]))


@cache
def _resource_toml(name: str) -> dict[str, Any]:
    text = importlib.resources.files("voxdesk.resources").joinpath(name).read_text("utf-8")
    return tomllib.loads(text)
