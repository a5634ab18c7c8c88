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
from PySide6.QtWidgets import QWidget

sys.path.insert(0, str(Path(__file__).parents[1]))

from tests.bridge.test_transcription import voice_message
from tests.fakes.discord_server import TOKEN, FakeDiscord
from tests.fakes.openai_server import API_KEY, FakeOpenAI
from voxdesk.core.config import SecretStore, Settings
from voxdesk.core.events import BridgeStateChanged, ListeningChanged, Place, VoiceCaption
from voxdesk.core.services import Services
from voxdesk.core.training.store import NewExample, Status
from voxdesk.desktop.app import create_application
from voxdesk.desktop.window import MainWindow

DOCS = Path(__file__).parent
CORPUS = DOCS.parent / "tests" / "data" / "corpus"
RECORDINGS = ("speechrec_french.aiff", "pocketsphinx_cards_001.wav",
              "pocketsphinx_librivox_0870.wav", "deepspeech_new_home_in_the_stars.wav")  # fmt: skip
# What three members said in voice, as the bot's listening would caption it (start, end).
SAID = [
    ("trainer", "Did everyone get the new build?", 1.2, 3.0),
    ("member", "Yes, the captions show up right under the feed.", 3.4, 6.1),
    ("moderator", "Nice. Can it translate what I say in French?", 6.5, 9.0),
    ("trainer", "Turn on Translate on the Record page, it works there.", 9.4, 12.2),
]


async def main() -> None:
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
    await window.record.transcribe_files([CORPUS / name for name in RECORDINGS])
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
    await fake.post(fake.trainer, "!feedback Ответы иногда слишком длинные", channel=fake.chat)
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
    ]  # the first four are held out: the fine-tune validates on them, Evaluate asks them
    await services.datasets.add("demo", [NewExample(r, status=Status.APPROVED,
                                                    tags=["validation"] if i < 4 else [])
                                         for i, r in enumerate(demo)])  # fmt: skip
    await window.finetune.start()
    window.finetune.dataset.setCurrentText("demo")
    window.finetune.validation.setValue(0.2)
    window.finetune.suffix.setText("voxbot")
    job_id = await window.finetune.start_job(confirm=False)
    await window.finetune.wait_for(job_id)
    window.finetune.select(job_id)
    await window.finetune.show_job()
    await show_captions(services, fake)
    await window.dataset.refresh(select="discord")
    window.dataset.status_filter.setCurrentText("candidate")
    await window.dataset.background.settle()
    await window.dataset.validate()
    for row, name in enumerate(("record", "discord", "dataset", "finetunes", "settings")):
        window.sidebar.setCurrentRow(row)
        await shoot(window, name)
    window.sidebar.setCurrentRow(3)
    await evaluate(window, openai, job_id)
    await shoot(window, "evaluate")
    await past_evaluation(window)
    await shoot(window, "evaluate-history")
    await edit(window)
    await window.shutdown()
    await services.close()
    await openai.stop()
    await fake.stop()


async def show_captions(services: Services, fake: FakeDiscord) -> None:
    """What the bot's listening publishes, on the bus the Discord page follows."""
    voice = Place(fake.guild_id, "Voxdesk Test Guild", fake.voice, "Voice")
    services.events.publish(ListeningChanged(voice, True, "captions in #bot-chat"))
    for number, (who, text, start, end) in enumerate(SAID, 1):
        user = getattr(fake, who)
        if number < len(SAID):
            caption = VoiceCaption(voice, number, user.id, user.name, text, True, start, end)
        else:  # still being said: the last words are a guess, painted lighter
            said = text.rsplit(" ", 3)[0]
            guess = said.rsplit(" ", 2)[-1]
            caption = VoiceCaption(voice, number, user.id, user.name, said, False, start,
                                   partial=guess)  # fmt: skip
        services.events.publish(caption)
    await asyncio.sleep(0.2)  # the panel's follower takes them


async def evaluate(window: MainWindow, openai: FakeOpenAI, job_id: str) -> None:
    """The base model and the fine-tuned one side by side on the held-out prompts."""
    job = window.finetune.selected_job()
    assert job is not None and job.id == job_id and job.fine_tuned_model
    tuned = job.fine_tuned_model
    # The fake's tuned model learnt the held-out answers; the base model answers its default.
    openai.answers[tuned] = lambda messages: messages[-1]["content"].replace("Вопрос", "Ответ")
    panel = window.finetune.evaluation
    window.finetune.tabs.setCurrentWidget(panel)
    await panel.refresh_choices()
    panel.dataset.setCurrentText("demo")
    panel.add_model(job.base_model)
    panel.add_model(tuned)
    await panel.run_evaluation(confirm=False)


async def past_evaluation(window: MainWindow) -> None:
    """A second, shorter evaluation; then the first chosen again from the job's past ones."""
    panel = window.finetune.evaluation
    panel.limit.setValue(2)
    await panel.run_evaluation(confirm=False)
    panel.sections.setCurrentIndex(1)  # Past evaluations
    panel.history_table.selectRow(1)
    await panel.background.settle()


async def edit(window: MainWindow) -> None:
    """The editor on the longest recording, split in two, the second half selected."""
    record = window.record
    row = next(r for r in range(record.history.rowCount())
               if record.history.index(r).data().startswith("pocketsphinx_librivox"))  # fmt: skip
    record.list.setCurrentIndex(record.history.index(row))
    record.edit_selected()
    await asyncio.sleep(1)  # the editor shows on the loop's next turn and loads its audio
    record.editor.resize(1000, 560)
    editor = record.editor
    editor.view.setCurrentIndex(editor.table.index(0, 3))
    editor.split_current()  # in the middle: nothing is playing
    second = editor.table.segments[1]
    editor.view.setCurrentIndex(editor.table.index(1, 3))
    editor.player.seek((second.start + second.end) / 2)  # its words, the one there highlighted
    await shoot(record.editor, "editor")
    record.editor.close()


async def shoot(widget: QWidget, name: str) -> None:
    await asyncio.sleep(0.3)  # the loop runs Qt's events: the page lays itself out
    widget.grab().save(str(DOCS / f"{name}.png"))
    print(f"wrote docs/{name}.png")


if __name__ == "__main__":
    application = create_application()
    loop = qasync.QEventLoop(application)
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_until_complete(main())
