"""The window's main flows, driven through its widgets on the real services."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDoubleSpinBox, QLineEdit, QSpinBox, QWidget
from pytestqt.qtbot import QtBot

from tests.conftest import GENEROUS, clip
from tests.core.test_whisper import long_audio
from voxdesk.core.audio import FileSource
from voxdesk.core.config import Settings, load_settings
from voxdesk.core.services import Services
from voxdesk.desktop.history import TranscriptHistory
from voxdesk.desktop.pages.record import RecordPage
from voxdesk.desktop.pages.settings import FieldEditor, SettingsPage
from voxdesk.desktop.window import MainWindow


def test_window_pages_and_status_bar(qloop: asyncio.AbstractEventLoop, qtbot: QtBot,
                                     services: object) -> None:  # fmt: skip
    window = MainWindow(services)  # type: ignore[arg-type]
    qtbot.addWidget(window)
    names = [window.sidebar.item(i).text() for i in range(window.sidebar.count())]
    assert names == ["Record", "Discord", "Dataset", "Fine-tunes", "Settings"]
    assert window.engine_state.text() == "Speech: whisper (base)"
    assert window.key_state.text() == "OpenAI key: not set"
    assert window.bridge_state.text() == "Discord: offline"
    window.sidebar.setCurrentRow(4)
    assert window.pages.currentWidget() is window.settings_page
    assert window.discord.banner.text().startswith("The bot is offline")
    window.sidebar.setCurrentRow(1)
    window.discord.banner.linkActivated.emit("settings")
    assert window.pages.currentWidget() is window.settings_page
    qloop.run_until_complete(window.start())  # no token: the bot stays off, nothing fails
    qloop.run_until_complete(window.shutdown())


def test_keyboard_shortcuts(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    window = MainWindow(services)  # type: ignore[arg-type]
    qtbot.addWidget(window)
    with qtbot.waitActive(window):  # shortcuts go to the active window only
        window.show()
        window.activateWindow()

    def press(key: Qt.Key) -> None:
        focus = QApplication.focusWidget() or window
        qtbot.keyClick(focus, key, Qt.KeyboardModifier.ControlModifier)

    press(Qt.Key.Key_3)
    assert window.pages.currentWidget() is window.dataset
    press(Qt.Key.Key_1)
    assert window.pages.currentWidget() is window.record
    recordings: list[object] = []

    async def record_microphone() -> None:
        recordings.append(window.record.record_button.isChecked())

    monkeypatch.setattr(window.record, "record_microphone", record_microphone)
    press(Qt.Key.Key_R)
    qtbot.waitUntil(window.record.record_button.isChecked)  # a shortcut clicks after a flash
    qloop.run_until_complete(asyncio.sleep(0))  # the recording task starts on the loop
    assert recordings == [True]
    press(Qt.Key.Key_Q)
    assert not window.isVisible()
    qloop.run_until_complete(window.shutdown())


def test_every_widget_a_page_keeps_is_placed_in_it(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: object
) -> None:
    window = MainWindow(services)  # type: ignore[arg-type]
    qtbot.addWidget(window)
    for index in range(window.pages.count()):
        page = window.pages.widget(index)
        kept = {name: value for name, value in vars(page).items() if isinstance(value, QWidget)}
        assert kept, f"{type(page).__name__} keeps no widgets?"
        # a widget built but left out of every layout has no parent: the user never sees it
        assert [name for name, widget in kept.items()
                if widget is not page and not page.isAncestorOf(widget)] == []  # fmt: skip
    qloop.run_until_complete(window.shutdown())


@pytest.mark.slow
def test_record_page_transcribes_exports_and_remembers(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: object, tmp_path: Path
) -> None:
    history_path = tmp_path / "history.json"
    page: RecordPage = RecordPage(services, TranscriptHistory(history_path))  # type: ignore[arg-type]
    qtbot.addWidget(page)
    page.language.setCurrentText("auto")
    source = clip("deepspeech_new_home_in_the_stars.wav").path
    qloop.run_until_complete(page.transcribe_files([source]))
    assert page.history.rowCount() == 1
    assert page.text.toPlainText() == "We must find a new home in the stars."
    assert page.status.text() == "Done: 1 file(s) transcribed."
    page.export_selected(tmp_path / "stars.srt")
    qloop.run_until_complete(page.add_to_dataset())
    (candidate,) = qloop.run_until_complete(page.services.datasets.examples("discord"))
    assert candidate.messages == [{"role": "user", "content": page.text.toPlainText()}]
    assert candidate.origin == "desktop_transcript" and candidate.status == "candidate"
    # the cue ends with the last word (the page asks for word times, for the editor)
    assert (tmp_path / "stars.srt").read_text().startswith("1\n00:00:00,000 --> 00:00:02,")
    assert TranscriptHistory(history_path).rowCount() == 1  # kept across restarts


def test_record_page_reports_bad_files(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: object, tmp_path: Path
) -> None:
    page = RecordPage(services, TranscriptHistory(tmp_path / "h.json"))  # type: ignore[arg-type]
    qtbot.addWidget(page)
    fake = tmp_path / "voice.ogg"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    qloop.run_until_complete(page.transcribe_files([fake]))
    assert page.status.text().startswith("0 of 1 transcribed. voice.ogg is a PNG image")
    assert page.history.rowCount() == 0


@pytest.mark.slow
def test_a_long_transcription_can_be_cancelled(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: object, tmp_path: Path
) -> None:
    page = RecordPage(services, TranscriptHistory(tmp_path / "h.json"))  # type: ignore[arg-type]
    qtbot.addWidget(page)
    audio = qloop.run_until_complete(long_audio())
    path = tmp_path / "long.wav"
    path.write_bytes(audio.to_wav())

    async def cancel_on_progress() -> None:
        progressing = asyncio.Event()
        page.progress.valueChanged.connect(lambda value: value > 0 and progressing.set())
        page.start(page.transcribe_files([path]))
        await progressing.wait()
        assert page.cancel_button.isEnabled()
        page.cancel_button.click()
        await asyncio.gather(page._job, return_exceptions=True)  # type: ignore[arg-type]

    qloop.run_until_complete(asyncio.wait_for(cancel_on_progress(), 120))
    assert page.status.text() == "Cancelled."
    assert page.history.rowCount() == 0 and page.open_button.isEnabled()


@pytest.mark.slow
def test_recording_from_an_audio_source(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: object, tmp_path: Path
) -> None:
    from voxdesk.core.audio import decode_to_pcm

    page = RecordPage(services, TranscriptHistory(tmp_path / "h.json"))  # type: ignore[arg-type]
    qtbot.addWidget(page)
    page.language.setCurrentText("auto")
    pcm = qloop.run_until_complete(
        decode_to_pcm(clip("pocketsphinx_librivox_0870.wav").path, GENEROUS)
    )
    qloop.run_until_complete(page.record_microphone(FileSource(pcm, block_seconds=0.5)))
    assert page.live_updates >= 1  # the transcript-so-far was shown while recording
    assert page.history.rowCount() == 1
    assert "john dashwood" in page.text.toPlainText().lower()
    assert page.record_button.text() == "● Record"


def test_settings_page_validates_then_saves(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: object, tmp_path: Path
) -> None:
    page = SettingsPage(services)  # type: ignore[arg-type]
    qtbot.addWidget(page)
    page.editors[("speech", "language")].widget.setText("ru-RU")  # type: ignore[attr-defined]
    page.editors[("discord", "reply_channels")].widget.setText("123, 456")  # type: ignore[attr-defined]
    with qtbot.waitSignal(page.saved):
        assert qloop.run_until_complete(page.save())
    saved = load_settings(tmp_path / "settings.toml")
    assert saved.speech.language == "ru-RU" and saved.discord.reply_channels == [123, 456]
    page.editors[("discord", "reply_channels")].widget.setText("general")  # type: ignore[attr-defined]
    assert not qloop.run_until_complete(page.save())
    assert "discord.reply_channels" in page.status.text()
    assert load_settings(tmp_path / "settings.toml").discord.reply_channels == [123, 456]
    qloop.run_until_complete(page.store_secret(next(iter(page.secret_inputs))))
    assert "first" in page.status.text()  # an empty secret is not stored


def test_settings_changed_elsewhere_are_shown_and_never_undone(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services, tmp_path: Path
) -> None:
    page = SettingsPage(services)
    qtbot.addWidget(page)
    store = services.settings_store
    # "Use this model", meanwhile
    qloop.run_until_complete(store.set("assistant.model", "ft:gpt-4o-mini:org::x1"))
    page.editors[("assistant", "temperature")].widget.setValue(1.5)  # type: ignore[attr-defined]
    assert qloop.run_until_complete(page.save())
    saved = load_settings(tmp_path / "settings.toml").assistant
    assert (saved.model, saved.temperature) == ("ft:gpt-4o-mini:org::x1", 1.5)
    assert services.assistant.settings.temperature == 1.5  # the running assistant has it
    qloop.run_until_complete(store.set("assistant.system_prompt", "Be brief."))  # "!instruction"
    page.refresh()  # as when the page is shown again
    assert page.editors[("assistant", "system_prompt")].widget.text() == "Be brief."  # type: ignore[attr-defined]


def test_number_settings_keep_to_the_schemas_bounds_and_units(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: object
) -> None:
    page = SettingsPage(services)  # type: ignore[arg-type]
    qtbot.addWidget(page)
    boxes = {key: editor.widget for key, editor in page.editors.items()
             if isinstance(editor.widget, QSpinBox | QDoubleSpinBox)}  # fmt: skip
    settings = services.settings  # type: ignore[attr-defined]
    for (section, name), editor in page.editors.items():  # every value shown as it is
        assert editor.value() == getattr(getattr(settings, section), name), name
    for picker in page.pickers.values():  # the Whisper model, the Piper voice ('' is automatic)
        assert picker.selected() == picker_setting(settings, picker.key), picker.key
    temperature = boxes[("assistant", "temperature")]
    assert (temperature.minimum(), temperature.maximum()) == (0, 2)
    assert boxes[("audio", "max_bytes")].minimum() == 1  # gt=0
    assert boxes[("assistant", "history_tokens")].minimum() == 200
    assert boxes[("openai", "timeout")].suffix() == " s"
    threads = boxes[("speech", "whisper_threads")]
    threads.setValue(0)
    assert threads.text() == "all cores"


def picker_setting(settings: object, key: str) -> object:
    section, _, name = key.partition(".")
    return getattr(getattr(settings, section), name)


@pytest.mark.parametrize(
    ("section", "name", "value", "cleared"),
    [("tts", "piper_voice", "", ""), ("tts", "piper_voice", "en_US-joe-medium", ""),
     ("discord", "wake_name", None, None), ("discord", "wake_name", "Вокс", None)],
)  # fmt: skip
def test_a_text_setting_comes_back_as_it_was_shown(
    qtbot: QtBot, section: str, name: str, value: str | None, cleared: str | None
) -> None:
    """Empty stays '' where the setting is text, unset stays None where it may be None."""
    schema = type(getattr(Settings(), section))
    editor = FieldEditor(schema.model_fields[name], value)
    qtbot.addWidget(editor.widget)
    assert editor.value() == value and not editor.edited()
    assert isinstance(editor.widget, QLineEdit)
    editor.widget.setText("")
    assert editor.value() == cleared
    schema.model_validate({name: editor.value()})  # what the box gives back, the schema takes


def test_without_a_display_the_headless_commands_are_named() -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}  # fmt: skip
    done = subprocess.run([str(Path(sys.executable).parent / "voxdesk")], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert "No display" in done.stderr and "voxdesk bridge" in done.stderr


def test_the_microphone_picker_lists_inputs_or_says_why(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: object, tmp_path: Path,
    fake_sounddevice: object,
) -> None:  # fmt: skip
    page = RecordPage(services, TranscriptHistory(tmp_path / "h.json"))  # type: ignore[arg-type]
    qtbot.addWidget(page)
    names = [page.device.itemText(i) for i in range(page.device.count())]
    assert names == ["system default", "USB mic", "Webcam"]
    page.device.setCurrentIndex(1)
    assert page.device.currentData() == 1


def test_without_portaudio_the_picker_explains(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: object, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from voxdesk.core.audio import MicrophoneUnavailable

    def missing() -> list[object]:
        raise MicrophoneUnavailable("No PortAudio.", hint="apt-get install libportaudio2")

    monkeypatch.setattr("voxdesk.desktop.pages.record.list_input_devices", missing)
    page = RecordPage(services, TranscriptHistory(tmp_path / "h.json"))  # type: ignore[arg-type]
    qtbot.addWidget(page)
    assert page.device.itemText(0) == "no microphone"
    assert "libportaudio2" in page.device.toolTip()


def test_settings_check_buttons_ask_the_services(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip

    from tests.fakes.discord_server import TOKEN, FakeDiscord
    from tests.fakes.openai_server import API_KEY, FakeOpenAI
    from voxdesk.core.config import Secret, SecretStore, Settings
    from voxdesk.core.services import Services

    fake = qloop.run_until_complete(FakeDiscord().start())
    openai = qloop.run_until_complete(FakeOpenAI().start())
    fake.point_client_here(monkeypatch)
    settings = Settings()
    settings.openai.base_url = openai.base_url
    services = Services(settings, SecretStore({"OPENAI_API_KEY": API_KEY}),
                        settings_path=tmp_path / "settings.toml")  # fmt: skip
    page = SettingsPage(services)
    qtbot.addWidget(page)
    qloop.run_until_complete(page.check_secret(Secret.OPENAI_API_KEY))  # the key in use
    assert page.status.text() == "OpenAI accepted the key (2 models available)."
    page.secret_inputs[Secret.OPENAI_API_KEY].setText("sk-typed-but-wrong-0000000000")
    qloop.run_until_complete(page.check_secret(Secret.OPENAI_API_KEY))
    assert "rejected the API key" in page.status.text()
    qloop.run_until_complete(page.check_secret(Secret.DISCORD_TOKEN))
    assert page.status.text() == "There is no Discord bot token to check yet."
    page.secret_inputs[Secret.DISCORD_TOKEN].setText(TOKEN)
    qloop.run_until_complete(page.check_secret(Secret.DISCORD_TOKEN))
    assert page.status.text() == "Discord accepted the token: the bot is voxdesk-bot."
    page.secret_inputs[Secret.DISCORD_TOKEN].setText("wrong.token.value")
    qloop.run_until_complete(page.check_secret(Secret.DISCORD_TOKEN))
    assert page.status.text().startswith("Discord rejected the bot token")
    problems = fake.spec_problems() + openai.spec_problems()
    qloop.run_until_complete(openai.stop())
    qloop.run_until_complete(fake.stop())
    assert problems == []


@pytest.mark.slow
def test_ask_shows_and_speaks_the_assistants_reply(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, tmp_path: Path, fake_sounddevice: object,
) -> None:  # fmt: skip
    from tests.fakes.openai_server import API_KEY, FakeOpenAI
    from voxdesk.core.config import SecretStore, Settings
    from voxdesk.core.services import Services

    openai = qloop.run_until_complete(FakeOpenAI().start())
    settings = Settings()
    settings.openai.base_url = openai.base_url
    settings.tts.engine = "espeak"
    services = Services(settings, SecretStore({"OPENAI_API_KEY": API_KEY}))
    page = RecordPage(services, TranscriptHistory(tmp_path / "h.json"))
    qtbot.addWidget(page)
    page.language.setCurrentText("auto")

    async def scenario() -> None:
        await page.transcribe_files([clip("deepspeech_new_home_in_the_stars.wav").path])
        page.question.setText("Translate this into Russian:")
        await page.ask(use_transcript=True)

    qloop.run_until_complete(scenario())
    sent = openai.chat_requests[-1]["messages"][-1]["content"]
    assert sent == "Translate this into Russian:\n\nWe must find a new home in the stars."
    assert f"Assistant: {openai.reply}" in page.conversation.toPlainText()
    ((samples, rate),) = fake_sounddevice.played  # type: ignore[attr-defined]
    assert rate == 16_000 and len(samples) > rate  # over a second of the spoken reply
    qloop.run_until_complete(services.close())
    qloop.run_until_complete(openai.stop())
