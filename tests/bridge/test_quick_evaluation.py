"""!test alone: the reply model and its base on a few validation prompts, summed up."""

from __future__ import annotations

from typing import Any

from tests.bridge.conftest import Running
from voxdesk.core.training.evaluate import hold_out
from voxdesk.core.training.store import NewExample, Status

TUNED = "ft:gpt-4o-mini-2024-07-18:voxdesk-test:bot:abc123"


async def test_test_alone_posts_an_evaluation_summary(running: Running) -> None:
    fake, openai, services = running.discord, running.openai, running.services
    dataset = services.settings.discord.dataset_for(fake.guild_id)
    await services.settings_store.set("assistant.model", TUNED)
    await services.datasets.add(dataset, [NewExample(
        {"messages": [{"role": "user", "content": f"Q{i}?"},
                      {"role": "assistant", "content": f"The answer is {i}."}]},
        status=Status.APPROVED) for i in range(8)])  # fmt: skip
    await fake.post(fake.member, "!test")
    await fake.wait_for(lambda m: "no 'validation' split" in m["content"]
                        and f"voxdesk finetune split {dataset}" in m["content"])  # fmt: skip

    await hold_out(services.datasets, dataset, 0.75)
    openai.models.add(TUNED)

    def tuned(messages: list[dict[str, Any]]) -> str:
        return "The answer is " + messages[-1]["content"].strip("Q?") + "."

    openai.answers[TUNED] = tuned
    await fake.post(fake.member, "!test")
    summary = await fake.wait_for(lambda m: "prompts of" in m["content"])
    lines = summary["content"].splitlines()
    assert lines[0] == f"5 'validation' prompts of '{dataset}':"
    assert lines[1].startswith("gpt-4o-mini-2024-07-18: similarity ") and ", 0 won," in lines[1]
    assert lines[2].startswith(f"{TUNED}: similarity 100.0, 5 won, ")
    asked = [b["model"] for b in openai.chat_requests]
    assert asked.count(TUNED) == 5 and asked.count("gpt-4o-mini-2024-07-18") == 5
