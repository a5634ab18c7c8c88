"""The bot's commands that change settings go through the one store: kept, together."""

from __future__ import annotations

from tests.bridge.conftest import Running, next_event
from voxdesk.core.config import load_settings
from voxdesk.core.events import SettingsChanged


async def test_select_dataset_then_instruction_keeps_both(running: Running) -> None:
    fake = running.discord
    await running.services.datasets.create_dataset("second")
    await fake.post(fake.trainer, "!select_dataset second")
    await fake.wait_for(lambda m: m["content"] == "Corrections and feedback now go to 'second'.")
    assert (await next_event(running, SettingsChanged)).keys == {"discord.guild_datasets"}
    await fake.post(fake.trainer, "!instruction set Отвечай коротко.")
    await fake.wait_for(lambda m: m["content"] == "Instruction updated.")
    assert (await next_event(running, SettingsChanged)).keys == {"assistant.system_prompt"}
    saved = load_settings()
    assert saved.discord.guild_datasets == {str(fake.guild_id): "second"}
    assert saved.assistant.system_prompt == "Отвечай коротко."
    assert running.services.assistant.system_prompt == "Отвечай коротко."


async def test_an_instruction_holding_a_key_is_refused(running: Running) -> None:
    fake = running.discord
    key = "sk-proj-pastedbymistake0123456789abcdef"
    await fake.post(fake.trainer, f"!instruction set Use {key} for the weather.")
    reply = await fake.wait_for(lambda m: "looks like a secret" in m["content"])
    assert key not in reply["content"]
    assert load_settings().assistant.system_prompt is None
