"""A generated fine-tuning file with known defects, for the validator benchmark and tests."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

_TEXT = """the bot listens and learns from voice messages in every channel while the operator
reviews transcripts corrects answers approves examples and starts fine tunes
привет как дела сегодня хорошая погода спасибо"""
WORDS = tuple(_TEXT.split())


def sentence(rng: random.Random, low: int = 6, high: int = 40) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high))).capitalize() + "."


def write_dataset(path: Path, examples: int, seed: int = 7) -> Counter[str]:
    """Write ``examples`` lines; returns how many of each planted defect the file holds."""
    rng = random.Random(seed)
    planted: Counter[str] = Counter()
    with path.open("w", encoding="utf-8") as out:
        for index in range(examples):
            messages = [
                {"role": "system", "content": "You are Voxdesk's helpful Discord bot."},
                {"role": "user", "content": sentence(rng)},
                {"role": "assistant", "content": sentence(rng, 10, 80)},
            ]
            defect = index % 50
            if index % 5_000 == 4_999:  # rare, as in real data: 85 KB each would dominate
                messages[1]["content"] = "word " * 17_000
                planted["over_token_limit"] += 1
                defect = -1
            if defect == 1:
                messages.pop(0)
                planted["missing_system_message"] += 1
            elif defect == 2:
                messages[2]["role"] = "bot"
                planted["unrecognized_role"] += 1
                planted["example_missing_assistant_message"] += 1
            elif defect == 3:
                del messages[1]["content"]
                planted["message_missing_key"] += 1
                planted["missing_content"] += 1
            elif defect == 4:
                messages[2]["tone"] = "friendly"
                planted["message_unrecognized_key"] += 1
            elif defect == 5:
                messages[2]["content"] = ""
                planted["missing_content"] += 1
            elif defect == 6:
                out.write("{not json\n")
                planted["invalid_json"] += 1
                continue
            elif defect == 7:
                messages[2]["weight"] = 0
            out.write(json.dumps({"messages": messages}, ensure_ascii=False) + "\n")
    return planted
