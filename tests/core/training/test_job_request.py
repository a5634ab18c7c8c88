"""A job's options are checked against OpenAI's bounds, and those bounds are the spec's."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.fakes.openai_server import openai_spec
from voxdesk.core.training.job_request import (
    HYPERPARAMETER_BOUNDS,
    SEED_BOUNDS,
    SUFFIX_LENGTH,
    Bounds,
    Hyperparameters,
    InvalidJobRequest,
    JobOptions,
    Method,
)


def spec_bounds(schema: dict[str, Any]) -> Bounds:
    """The numeric branch of a spec property ("auto" or a number) as Bounds."""
    numeric = next(b for b in schema.get("oneOf", [schema]) if b["type"] in ("integer", "number"))
    low, high = numeric.get("minimum"), numeric.get("maximum")
    if numeric.get("exclusiveMinimum") is True:  # OpenAPI 3.0's form: minimum is exclusive
        return Bounds(above=low, high=high)
    return Bounds(low=low, high=high)


def test_the_bounds_are_openais() -> None:
    schemas = openai_spec().document["components"]["schemas"]
    dpo = schemas["FineTuneDPOHyperparameters"]["properties"]
    supervised = schemas["FineTuneSupervisedHyperparameters"]["properties"]
    assert set(dpo) == set(HYPERPARAMETER_BOUNDS) and set(supervised) == set(dpo) - {"beta"}
    for name, bounds in HYPERPARAMETER_BOUNDS.items():
        assert spec_bounds(dpo[name]) == bounds, name
        if name in supervised:
            assert spec_bounds(supervised[name]) == bounds, name
    request = schemas["CreateFineTuningJobRequest"]["properties"]
    assert spec_bounds(request["seed"]) == SEED_BOUNDS
    suffix = request["suffix"]
    assert Bounds(low=suffix["minLength"], high=suffix["maxLength"]) == SUFFIX_LENGTH


def options(method: Method = "supervised", **values: Any) -> JobOptions:
    hyper = {k: values.pop(k) for k in list(values) if k in HYPERPARAMETER_BOUNDS}
    return JobOptions("gpt-4o-mini-2024-07-18", method, Hyperparameters(**hyper), **values)


@pytest.mark.parametrize(
    ("method", "values", "message"),
    [
        ("dpo", {"beta": 0.0}, "The beta 0 is out of range: OpenAI takes above 0 and at most 2."),
        ("dpo", {"beta": 5.0}, "The beta 5 is out of range"),
        ("dpo", {"beta": float("nan")}, "The beta nan is out of range"),
        ("supervised", {"beta": 0.5}, "Beta applies only to the dpo method."),
        (
            "supervised",
            {"learning_rate_multiplier": 0.0},
            "The learning rate multiplier 0 is out of range: OpenAI takes above 0.",
        ),
        (
            "supervised",
            {"batch_size": 300},
            "The batch size 300 is out of range: OpenAI takes a whole number 1 to 256.",
        ),
        ("supervised", {"n_epochs": 0}, "The n epochs 0 is out of range"),
        ("supervised", {"suffix": ""}, "The suffix has 0 characters; OpenAI takes 1 to 64."),
        ("supervised", {"suffix": "x" * 65}, "The suffix has 65 characters"),
        ("supervised", {"seed": -1}, "The seed -1 is out of range: OpenAI takes a whole number"),
    ],
)
def test_out_of_range_options_are_refused(
    method: Method, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidJobRequest, match="^" + re.escape(message)) as refused:
        options(method, **values).check()
    assert refused.value.hint  # what to do about it


def test_options_at_the_edges_pass() -> None:
    options("dpo", beta=2.0, n_epochs=50, batch_size=256, learning_rate_multiplier=1e-6,
            suffix="x" * 64, seed=0).check()  # fmt: skip
    options("supervised", n_epochs=1, batch_size=1, suffix="x", seed=2_147_483_647).check()
