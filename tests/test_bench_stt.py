"""bench/stt.py measures every Whisper model installed here, downloaded ones included."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.stt import engines
from voxdesk.core.models.store import MANIFEST, ModelStore


def test_the_speech_bench_covers_every_installed_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    baselines = ["sphinx", "speech_recognition.recognize_sphinx"]
    assert engines() == ["whisper:base", "whisper:tiny.en", *baselines]
    store = ModelStore()
    for name in ("small", "large-v3-turbo"):  # as `voxdesk models download` leaves them
        folder = store.folder(store.entry(name))
        folder.mkdir(parents=True)
        (folder / MANIFEST).write_text("{}")
    store.folder(store.entry("medium")).mkdir(parents=True)  # half downloaded: not installed
    assert engines() == [
        "whisper:base",
        "whisper:tiny.en",
        "whisper:small",
        "whisper:large-v3-turbo",
        *baselines,
    ]
