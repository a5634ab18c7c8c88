"""The text-command prefix is a setting: the bot answers to the one saved now, and names it."""

from __future__ import annotations

from tests.bridge.conftest import Running


async def test_a_changed_prefix_holds_at_once_and_replies_name_it(running: Running) -> None:
    """The bot answered to the prefix it started with until a restart, and its replies and help
    named `!` whatever the setting said."""
    fake = running.discord
    await running.services.settings_store.set("discord.prefix", "?")
    await fake.post(fake.member, "?hi")
    hello = await fake.wait_for(lambda m: m["content"].startswith("Привет, bob"))
    assert "`?help`" in hello["content"]
    await fake.post(fake.trainer, "?transcript")
    await fake.wait_for(lambda m: m["content"] == "Nobody has been captioned here yet. "
                        "Start with ?listen.")  # fmt: skip
    await fake.post(fake.trainer, "?getfile nothing.jsonl")
    await fake.wait_for(lambda m: "`?getfile` lists them" in m["content"])
    await fake.post(fake.trainer, f"<@{fake.bot.id}> getfile ../x", mention_bot=False)
    await fake.wait_for(lambda m: "file name from `?getfile`" in m["content"])  # not the mention
    await fake.post(fake.member, "?help")
    shown = await fake.wait_for(lambda m: m["content"].startswith("**Voxdesk bot — commands**"))
    assert "`?listen" in shown["content"] and "`!" not in shown["content"]
