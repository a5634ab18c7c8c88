"""Choosing Whisper models in the window: download on demand from the loopback hub after a
confirmation with the size, progress, Cancel and resume, removal, and the Record page's chooser."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLineEdit, QMessageBox
from pytestqt.qtbot import QtBot

from tests.conftest import clip
from tests.core.test_models import JOE, TINY_EN, model_bin_url, tiny_repository
from tests.fakes.hf_hub import FakeHub, HubFile, Repository
from voxdesk.core.models import ModelStore, catalogue
from voxdesk.core.services import Services
from voxdesk.desktop.models import ModelPicker
from voxdesk.desktop.pages.record import RecordPage
from voxdesk.desktop.pages.settings import SettingsPage

TINY_SIZE = sum(path.stat().st_size for path in TINY_EN.iterdir() if path.is_file())


@pytest.fixture
def hub(
    qloop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[FakeHub]:
    """The loopback hub serving tiny, and a fresh user cache for the downloads."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fake = qloop.run_until_complete(FakeHub().start())
    fake.add(tiny_repository())
    monkeypatch.setenv("HF_ENDPOINT", fake.endpoint)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    yield fake
    qloop.run_until_complete(fake.stop())


async def until(condition: Callable[[], object]) -> None:
    """Let the loop run until a widget shows ``condition`` (nothing to await)."""
    async with asyncio.timeout(30):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def pick(picker: ModelPicker, name: str) -> asyncio.Task[None]:
    """Choose ``name`` in the combo as a user does; the picker's work."""
    index = picker.combo.findData(name)
    assert index >= 0, name
    picker.combo.setCurrentIndex(index)
    picker.combo.activated.emit(index)
    assert picker.task is not None
    return picker.task


async def answer(picker: ModelPicker, yes: bool = True) -> str:
    """Answer the picker's question; its text."""
    await until(lambda: picker.confirmation is not None)
    box = picker.confirmation
    assert box is not None
    text = box.text()
    box.button(QMessageBox.StandardButton.Yes if yes else QMessageBox.StandardButton.No).click()
    return text


def labels(picker: ModelPicker) -> list[str]:
    return [picker.combo.itemText(i) for i in range(picker.combo.count())]


def test_a_model_chosen_in_settings_is_downloaded_saved_and_transcribes(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services, hub: FakeHub
) -> None:
    page = SettingsPage(services)
    qtbot.addWidget(page)
    page.show()
    picker = page.pickers["whisper"]
    assert picker.combo.currentText() == "base — all languages · bundled"
    assert "tiny — all languages · 75 MB to download" in labels(picker)
    language = page.editors[("speech", "language")].widget
    assert isinstance(language, QLineEdit)
    language.setText("ru-RU")  # the suggestion follows the language as it is typed
    assert "small — all languages · 484 MB to download · suggested for ru-RU" in labels(picker)
    shown: list[int] = []
    picker.progress.valueChanged.connect(shown.append)

    async def story() -> None:
        task = pick(picker, "tiny")
        question = await answer(picker, yes=False)  # the size first: the user may say no
        assert f"Download 'tiny' ({TINY_SIZE / 1e6:.0f} MB, 4 files)?" in question
        await task
        assert services.settings.speech.whisper_model == "base"
        assert picker.status.text() == "Not downloaded." and hub.ranges(model_bin_url(hub)) == []

        task = pick(picker, "tiny")
        await answer(picker)
        await task
        assert 0 < shown[0] < 1000 and 1000 in shown and not picker.progress.isVisible()
        assert services.settings.speech.whisper_model == "tiny"
        assert 'whisper_model = "tiny"' in services.settings_store.path.read_text()
        assert picker.combo.currentText() == "tiny — all languages · downloaded"
        transcript = await services.speech.transcribe(
            clip("deepspeech_new_home_in_the_stars.wav").path, engine="whisper", language="en"
        )
        assert transcript.model == "tiny"
        assert transcript.text == "We must find a new home in the stars."

        assert picker.remove_button.isEnabled()
        picker.remove_button.click()
        assert "Delete the downloaded 'tiny'" in await answer(picker)
        await until(lambda: picker.task is None)
        assert ModelStore().installed_path("tiny") is None
        assert services.settings.speech.whisper_model == "base"  # the model in use gave way
        assert picker.status.text() == "Removed 'tiny'; now using base."
        assert "tiny — all languages · 75 MB to download" in labels(picker)

    qloop.run_until_complete(story())


def test_cancel_stops_the_download_and_the_next_choice_resumes(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services, hub: FakeHub
) -> None:
    page = SettingsPage(services)
    qtbot.addWidget(page)
    page.show()
    picker = page.pickers["whisper"]
    hub.hold_after["model.bin"] = 12_000_000  # the first 10 MB chunk arrives, then the hub waits

    async def story() -> None:
        task = pick(picker, "tiny")
        await answer(picker)
        await until(lambda: picker.progress.value() > 10_000_000 * 1000 // TINY_SIZE)
        assert picker.cancel_button.isVisible() and not picker.combo.isEnabled()
        picker.cancel_button.click()
        hub.release.set()  # the next chunk reaches the worker, which sees the cancel and stops
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (
            picker.status.text() == "The download of 'tiny' was stopped; choose it again to resume."
        )
        assert services.settings.speech.whisper_model == "base"
        assert ModelStore().installed_path("tiny") is None and picker.combo.isEnabled()
        assert not picker.progress.isVisible()

        task = pick(picker, "tiny")
        await answer(picker)
        await task
        first, second = hub.ranges(model_bin_url(hub))
        assert first == "" and second.startswith("bytes=1")  # resumed, not started again
        assert services.settings.speech.whisper_model == "tiny"

    qloop.run_until_complete(story())


def test_the_record_page_chooses_the_model_and_suggests_one_per_language(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services, hub: FakeHub
) -> None:
    page = RecordPage(services)
    qtbot.addWidget(page)
    page.show()
    picker = page.model

    page.language.setCurrentText("ru-RU")
    assert "small — all languages · 484 MB to download · suggested for ru-RU" in labels(picker)
    page.language.setCurrentText("en-US")
    assert "base.en — English · 145 MB to download · suggested for en-US" in labels(picker)
    assert not any("suggested" in label for label in labels(picker) if "small" in label)

    qloop.run_until_complete(pick(picker, "tiny.en"))  # bundled: no question, no download
    assert services.settings.speech.whisper_model == "tiny.en" and hub.requests == []
    assert picker.combo.currentText().startswith("tiny.en — English · bundled")

    page.engine.setCurrentText("google")  # no model to choose for Google
    assert not picker.isVisible()
    page.engine.setCurrentText("whisper")
    assert picker.isVisible()
    qloop.run_until_complete(page.shutdown())


def test_a_voice_chosen_in_settings_is_downloaded_and_becomes_the_piper_voice(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services, hub: FakeHub
) -> None:
    russian = catalogue()["ru_RU-irina-medium"]  # served with the bundled English voice's files
    files = [HubFile(f"{russian.folder}/{russian.name}{suffix}",
                     (JOE / f"en_US-joe-medium{suffix}").read_bytes())
             for suffix in (".onnx", ".onnx.json")]  # fmt: skip
    hub.add(Repository(russian.repo, {item.path: item for item in files}))
    page = SettingsPage(services)
    qtbot.addWidget(page)
    page.show()
    picker = page.pickers["voice"]
    assert picker.combo.currentText() == "Best installed voice for the language"
    assert "en_US-joe-medium — en_US · bundled" in labels(picker)

    async def story() -> None:
        task = pick(picker, russian.name)
        assert f"Download '{russian.name}' (" in await answer(picker)
        await task
        assert services.settings.tts.piper_voice == russian.name
        assert picker.combo.currentText() == f"{russian.name} — ru_RU · downloaded"
        services.settings.tts.engine = "piper"
        speech = await services.voice.synthesize("Привет.", language="ru", output="wav")
        assert speech.engine == "piper"

        await pick(picker, "")  # back to the best installed voice for each language
        assert services.settings.tts.piper_voice == ""

    qloop.run_until_complete(story())


def test_a_hub_in_trouble_is_one_line_and_the_setting_stays(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services, hub: FakeHub
) -> None:
    hub.status = 500
    page = SettingsPage(services)
    qtbot.addWidget(page)
    picker = page.pickers["whisper"]
    qloop.run_until_complete(pick(picker, "small"))
    assert picker.status.text() == (
        f"The model hub ({hub.endpoint}) answered HTTP 500 for 'small'. "
        "Try again later; what arrived is kept and resumed."
    )
    assert services.settings.speech.whisper_model == "base" and picker.confirmation is None
    assert picker.combo.currentText() == "base — all languages · bundled"  # back to the one in use
