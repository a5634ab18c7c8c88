"""What a long-running Voxdesk process (the window, the headless bot) does once it has started."""

from __future__ import annotations

import gc


def freeze_start_up_objects() -> None:
    """Keep the objects alive at the end of start-up out of every later garbage collection.

    A full collection walks every tracked object, and once the window has started (Qt,
    discord.py, the OpenAI SDK, numpy, the pages) those are about 160,000: each full collection
    took 81-93 ms on the event loop, a frozen window or a late bot reply; with them frozen, under
    1 ms. bench.evaluate with its heap frozen this way: worst loop lag 69-86 -> 31-32 ms (main
    run), 83-122 -> 7-11 ms (rate-limited run). Nearly all of them (modules, classes, widgets)
    live as long as the process; the collection first frees what start-up left as garbage, which
    would otherwise stay for good.
    """
    gc.collect()
    gc.freeze()
