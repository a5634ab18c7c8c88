"""What a long-running Voxdesk process (the window, the headless bot) does once it has started."""

from __future__ import annotations

import asyncio
import gc
import importlib

from voxdesk.core.config.secrets import Secret, SecretStore
from voxdesk.core.training.tokens import count_texts, encoding_for_model


def freeze_start_up_objects() -> None:
    """Keep the objects alive at the end of start-up out of every later garbage collection.

    A full collection walks every tracked object, and once the window has started (Qt,
    discord.py, numpy, the pages) those are about 160,000: each full collection took 81-93 ms
    on the event loop, a frozen window or a late bot reply; with them frozen, under 1 ms.
    bench.evaluate with its heap frozen this way: worst loop lag 69-86 -> 31-32 ms (main
    run), 83-122 -> 7-11 ms (rate-limited run). Nearly all of them (modules, classes, widgets)
    live as long as the process; the collection first frees what start-up left as garbage, which
    would otherwise stay for good.
    """
    gc.collect()
    gc.freeze()


async def import_openai_ahead(secrets: SecretStore) -> None:
    """With an OpenAI key set, import the OpenAI SDK in a worker thread once started.

    Start-up leaves it out (0.6 s of imports the window would wait for); the first request
    would then import it on the event loop, freezing the window or the bot for as long.
    Its modules live as long as the process, and are frozen like start-up's.
    """
    if secrets.get(Secret.OPENAI_API_KEY) is None:
        return
    await asyncio.to_thread(importlib.import_module, "openai")
    gc.freeze()


def load_token_table(secrets: SecretStore, model: str) -> None:
    """With an OpenAI key set, load the token table the assistant trims conversations by.

    toktok builds it in native code holding the GIL (o200k_base 0.56 s, cl100k_base 0.22 s on
    2 cores): a worker thread would freeze the event loop as long. Left to the first answer, it
    froze the window, or delayed the bot's first reply, by that much; loaded before the window
    shows or the bot logs in, start-up pays it once, and only when answers are possible.
    """
    if secrets.get(Secret.OPENAI_API_KEY) is not None:
        count_texts(["Voxdesk"], encoding_for_model(model))
