"""!test alone, or !test N (/test count:N): the reply model and its base on a few validation
prompts, summed up with the estimate; !test TEXT is still answered."""

from __future__ import annotations

from typing import Any

from tests.bridge.conftest import Running
from voxdesk.core.training.evaluate import hold_out
from voxdesk.core.training.store import NewExample, Status

TUNED = "ft:gpt-4o-mini-2024-07-18:voxdesk-test:bot:abc123"
BASE = "gpt-4o-mini-2024-07-18"


async def held_out_dataset(running: Running, examples: int, share: float) -> str:
    """The guild's dataset with ``share`` of ``examples`` held out; the reply model is TUNED."""
    services = running.services
    dataset = services.settings.discord.dataset_for(running.discord.guild_id)
    await services.settings_store.set("assistant.model", TUNED)
    await services.datasets.add(dataset, [NewExample(
        {"messages": [{"role": "user", "content": f"Q{i}?"},
                      {"role": "assistant", "content": f"The answer is {i}."}]},
        status=Status.APPROVED) for i in range(examples)])  # fmt: skip
    if share:
        await hold_out(services.datasets, dataset, share)
    running.openai.models.add(TUNED)
    return dataset


async def test_test_alone_posts_an_evaluation_summary(running: Running) -> None:
    fake, openai = running.discord, running.openai
    dataset = await held_out_dataset(running, 8, 0)
    await fake.post(fake.member, "!test")
    await fake.wait_for(lambda m: "no 'validation' split" in m["content"]
                        and f"voxdesk finetune split {dataset}" in m["content"])  # fmt: skip

    await hold_out(running.services.datasets, dataset, 0.75)

    def tuned(messages: list[dict[str, Any]]) -> str:
        return "The answer is " + messages[-1]["content"].strip("Q?") + "."

    openai.answers[TUNED] = tuned
    await fake.post(fake.member, "!test")
    summary = await fake.wait_for(lambda m: "prompts of" in m["content"])
    lines = summary["content"].splitlines()
    assert lines[0] == f"5 'validation' prompts of '{dataset}':"
    assert lines[1].startswith(f"{BASE}: similarity ") and ", 0 won," in lines[1]
    assert lines[2].startswith(f"{TUNED}: similarity 100.0, 5 won, ")
    assert lines[3].startswith("Estimated before asking: 10 requests, about ")
    asked = [b["model"] for b in openai.chat_requests]
    assert asked.count(TUNED) == 5 and asked.count(BASE) == 5


async def test_test_n_asks_n_prompts_and_refuses_too_many(running: Running) -> None:
    fake, openai = running.discord, running.openai
    dataset = await held_out_dataset(running, 12, 0.75)  # 9 held out
    await fake.post(fake.member, "!test 7")
    summary = await fake.wait_for(lambda m: "prompts of" in m["content"])
    assert summary["content"].startswith(f"7 'validation' prompts of '{dataset}':")
    assert "Estimated before asking: 14 requests" in summary["content"]
    assert len(openai.chat_requests) == 14

    for wrong in ("51", "0", "-3"):
        await fake.post(fake.member, f"!test {wrong}")
        refusal = await fake.wait_for(lambda m, n=wrong: f"not {n}." in m["content"])
        assert refusal["content"].startswith("A quick test asks 1 to 50 prompts, not ")
        assert "\n" not in refusal["content"]
    assert len(openai.chat_requests) == 14  # nothing asked for them


async def test_test_text_starting_with_a_number_is_answered(running: Running) -> None:
    fake, openai = running.discord, running.openai
    await held_out_dataset(running, 12, 0.75)
    await fake.post(fake.member, "!test 3 reasons to fine-tune?")
    await fake.wait_for(lambda m: m["content"] == openai.reply)
    (request,) = openai.chat_requests
    assert request["messages"][-1]["content"] == "3 reasons to fine-tune?"
    assert request["model"] == TUNED


async def test_slash_test_takes_a_count(running: Running) -> None:
    fake, openai = running.discord, running.openai
    dataset = await held_out_dataset(running, 12, 0.75)
    command = running.bridge.bot.tree.get_command("test")
    assert command is not None
    count = next(p for p in command.parameters if p.name == "count")  # type: ignore[union-attr]
    assert (count.required, count.min_value, count.max_value) == (False, 1, 50)

    await fake.use_slash_command(fake.trainer, "test", count=3)
    summary = await fake.wait_for(lambda m: "prompts of" in m["content"])
    assert summary["content"].startswith(f"3 'validation' prompts of '{dataset}':")
    assert summary["flags"] == 1 << 6  # private, as /test's answers are
    assert len(openai.chat_requests) == 6

    await fake.use_slash_command(fake.trainer, "test", count=2, text="hello")
    await fake.wait_for(lambda m: "not both" in m["content"])
    assert len(openai.chat_requests) == 6
