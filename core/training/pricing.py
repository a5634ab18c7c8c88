"""Training and answering costs from the dated price table in ``resources/pricing.toml``."""

from __future__ import annotations

import functools
import importlib.resources
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CostEstimate:
    model: str
    price_model: str  # the table row used (a snapshot name, or the model's family)
    trained_tokens: int
    dollars: float
    prices_as_of: str


@functools.cache
def price_table() -> dict[str, Any]:
    text = (
        importlib.resources.files("voxdesk.resources").joinpath("pricing.toml").read_text("utf-8")
    )
    return tomllib.loads(text)


def estimate_cost(model: str, trained_tokens: int) -> CostEstimate | None:
    """Dollars to train ``model`` on ``trained_tokens`` (file tokens x epochs); None if unknown."""
    table = price_table()
    prices: dict[str, float] = table["training_per_million_tokens"]
    row = _price_row(model.removeprefix("ft:").split(":")[0], prices)
    if row is None:
        return None
    dollars = round(prices[row] * trained_tokens / 1_000_000, 2)
    return CostEstimate(model, row, trained_tokens, dollars, str(table["as_of"]))


def _price_row(model: str, prices: Mapping[str, Any]) -> str | None:
    if model in prices:
        return model
    # "gpt-4o-mini" means its newest snapshot: the longest table name it starts.
    family = [name for name in prices if name.startswith(model + "-")]
    return max(family, default=None)


def answer_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """Dollars for one chat completion of ``model``; None when its price is unknown.

    A fine-tuned model ("ft:BASE:org:suffix:id", or a checkpoint of one) is billed at its base
    model's fine-tuned row.
    """
    prices: dict[str, list[float]] = price_table()["inference_per_million_tokens"]
    tuned = model.startswith("ft:")
    base = model.removeprefix("ft:").split(":")[0]
    family = {name.removeprefix("ft:"): rates for name, rates in prices.items()
              if name.startswith("ft:") == tuned}  # fmt: skip
    row = _price_row(base, family)
    if row is None:
        return None
    per_input, per_output = family[row]
    return (prompt_tokens * per_input + completion_tokens * per_output) / 1_000_000
