"""Screenshots of every page of the real window, with the real bot on the loopback Discord.

    XDG_DATA_HOME=$(mktemp -d) DISPLAY=:99 .venv/bin/python docs/make_screenshots.py

Nothing is mocked in the window: the bot is Voxdesk's bridge talking to tests/fakes'
loopback Discord, replies come from the loopback OpenAI, transcripts from the offline engine.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import qasync
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).parents[1]))

from tests.bridge.test_transcription import voice_message
from tests.fakes.discord_server import TOKEN, FakeDiscord
from tests.fakes.openai_server import API_KEY, FakeOpenAI
from voxdesk.core.config import SecretStore, Settings
from voxdesk.core.events import BridgeStateChanged
from voxdesk.core.services import Services
from voxdesk.core.training.store import NewExample, Status
from voxdesk.desktop.app import create_application
from voxdesk.desktop.window import MainWindow

DOCS = Path(__file__).parent
CORPUS = DOCS.parent / "tests" / "data" / "corpus"


async def main(app: QApplication) -> None:
    fake, openai = await FakeDiscord().start(), await FakeOpenAI().start()
    fake.point_client_here()
    settings = Settings()
    settings.openai.base_url = openai.base_url
    settings.discord.language = "auto"
    settings.discord.reply_channels = [fake.chat]
    settings.openai.job_poll_seconds = 0.05
    openai.steps = 12
    secrets = SecretStore({"DISCORD_TOKEN": TOKEN, "OPENAI_API_KEY": API_KEY})
    services = Services(settings, secrets, settings_path=Path("/tmp/voxdesk-shots.toml"))
    states = services.events.subscribe(BridgeStateChanged)
    window = MainWindow(services)
    window.resize(1180, 720)
    window.show()
    await window.start()
    while (await states.get()).state != "connected":
        pass
    window.discord.refresh_places()
    for name in ("deepspeech_new_home_in_the_stars.wav", "speechrec_french.aiff"):
        await window.record.transcribe_files([CORPUS / name])
    audio = fake.attachment(voice_message("pocketsphinx_librivox_0880.wav"), "voice.ogg",
                            "audio/ogg", voice=True)  # fmt: skip
    await fake.post(fake.member, attachments=[audio], voice=True)
    await fake.wait_for(lambda m: "young man" in m["content"])
    await fake.post(fake.trainer, "Как дела у бота?", channel=fake.chat)
    await fake.wait_for(lambda m: m["content"] == openai.reply)
    await fake.post(fake.member, "!hi")
    await fake.wait_for(lambda m: "Привет, bob" in m["content"])
    reply = next(m for m in fake.bot_messages if m["content"] == openai.reply)
    await fake.post(fake.trainer, f"!correct {reply['id']} Всё отлично, спасибо!")
    await fake.wait_for(lambda m: "Saved as candidate" in m["content"])
    await fake.post(fake.member, "!feedback Ответы иногда слишком длинные", channel=fake.chat)
    await fake.wait_for(lambda m: m["content"].startswith("Thanks for the feedback"))
    demo = [
        {
            "messages": [
                {"role": "system", "content": "Отвечай кратко."},
                {"role": "user", "content": f"Вопрос {i}?"},
                {"role": "assistant", "content": f"Ответ {i}."},
            ]
        }
        for i in range(24)
    ]
    await services.datasets.add("demo", [NewExample(r, status=Status.APPROVED) for r in demo])
    await window.finetune.start()
    window.finetune.dataset.setCurrentText("demo")
    window.finetune.validation.setValue(0.2)
    window.finetune.suffix.setText("voxbot")
    job_id = await window.finetune.start_job(confirm=False)
    await window.finetune.wait_for(job_id)
    window.finetune.select(job_id)
    await window.finetune.show_job()
    await window.dataset.refresh(select="discord")
    window.dataset.status_filter.setCurrentText("candidate")
    await window.dataset.background.settle()
    await window.dataset.validate()
    for row, name in enumerate(("record", "discord", "dataset", "finetunes", "settings")):
        window.sidebar.setCurrentRow(row)
        await asyncio.sleep(0.3)  # let the page lay itself out before it is grabbed
        app.processEvents()
        window.grab().save(str(DOCS / f"{name}.png"))
        print(f"wrote docs/{name}.png")
    await window.shutdown()
    await services.close()
    await openai.stop()
    await fake.stop()


if __name__ == "__main__":
    application = create_application()
    loop = qasync.QEventLoop(application)
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_until_complete(main(application))
