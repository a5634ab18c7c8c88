"""What a fine-tuning job is asked to do, and what following one reports.

Plain data with no OpenAI client behind it, so that the command line and the window can
describe jobs without importing the SDK. The bounds on each option are OpenAI's, from its
published API spec (a test keeps them in step with the spec): a job is checked against them
before anything is uploaded, so a mistake costs neither an upload nor a failed job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from voxdesk.core.errors import VoxdeskError
from voxdesk.core.training.jobs import Checkpoint, JobEvent, JobSnapshot

Method = Literal["supervised", "dpo"]


class InvalidJobRequest(VoxdeskError):
    """A fine-tuning option is outside what OpenAI accepts."""


@dataclass(frozen=True)
class Bounds:
    """A numeric range; ``above`` is exclusive (the value must be greater), ``low`` inclusive."""

    low: float | None = None
    high: float | None = None
    above: float | None = None

    def admits(self, value: float) -> bool:
        return (
            math.isfinite(value)
            and (self.low is None or value >= self.low)
            and (self.high is None or value <= self.high)
            and (self.above is None or value > self.above)
        )

    def describe(self) -> str:
        floor = f"above {self.above:g}" if self.above is not None else f"at least {self.low:g}"
        if self.high is None:
            return floor
        if self.above is None:
            return f"{self.low:g} to {self.high:g}"
        return f"{floor} and at most {self.high:g}"


# OpenAI's create-job request: FineTune{Supervised,DPO}Hyperparameters, seed and suffix.
MAX_EPOCHS = 50
MAX_BATCH_SIZE = 256
MAX_BETA = 2.0
MAX_SUFFIX_LENGTH = 64
HYPERPARAMETER_BOUNDS: dict[str, Bounds] = {
    "n_epochs": Bounds(low=1, high=MAX_EPOCHS),
    "batch_size": Bounds(low=1, high=MAX_BATCH_SIZE),
    "learning_rate_multiplier": Bounds(above=0),
    "beta": Bounds(above=0, high=MAX_BETA),
}
SEED_BOUNDS = Bounds(low=0, high=2_147_483_647)
SUFFIX_LENGTH = Bounds(low=1, high=MAX_SUFFIX_LENGTH)


@dataclass(frozen=True)
class Hyperparameters:
    n_epochs: int | None = None
    batch_size: int | None = None
    learning_rate_multiplier: float | None = None
    beta: float | None = None  # DPO only: how far the model may move from the base

    def values(self) -> dict[str, float]:
        """The values chosen (the others are left to OpenAI)."""
        chosen = {
            "n_epochs": self.n_epochs,
            "batch_size": self.batch_size,
            "learning_rate_multiplier": self.learning_rate_multiplier,
            "beta": self.beta,
        }
        return {name: value for name, value in chosen.items() if value is not None}

    def for_method(self, method: Method) -> dict[str, Any]:
        values: dict[str, Any] = self.values()
        if method != "dpo":
            values.pop("beta", None)
        return values


@dataclass(frozen=True)
class JobOptions:
    """Everything a job is asked to do apart from its files, checked before they are uploaded."""

    base_model: str
    method: Method = "supervised"
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)
    suffix: str | None = None
    seed: int | None = None

    def check(self) -> None:
        """Raise InvalidJobRequest naming the first option OpenAI would refuse."""
        if not self.base_model.strip():
            raise InvalidJobRequest("No base model was given.", hint="Choose the model to train.")
        if self.method not in ("supervised", "dpo"):
            raise InvalidJobRequest(f"Unknown method '{self.method}'.",
                                    hint="Use supervised or dpo.")  # fmt: skip
        values = self.hyperparameters.values()
        if "beta" in values and self.method != "dpo":
            raise InvalidJobRequest("Beta applies only to the dpo method.",
                                    hint="Leave beta out, or choose the dpo method.")  # fmt: skip
        for name, value in values.items():
            _check(name.replace("_", " "), value, HYPERPARAMETER_BOUNDS[name],
                   whole=name in ("n_epochs", "batch_size"))  # fmt: skip
        if self.seed is not None:
            _check("seed", self.seed, SEED_BOUNDS, whole=True)
        if self.suffix is not None and not SUFFIX_LENGTH.admits(len(self.suffix)):
            raise InvalidJobRequest(
                f"The suffix has {len(self.suffix)} characters; OpenAI takes 1 to 64.",
                hint="Shorten it, or leave it out.",
            )


@dataclass(frozen=True)
class JobRequest:
    base_model: str
    training_file: str
    validation_file: str | None = None
    method: Method = "supervised"
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)
    suffix: str | None = None
    seed: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, options: JobOptions, training_file: str, validation_file: str | None) -> JobRequest:
        return cls(
            options.base_model, training_file, validation_file, options.method,
            options.hyperparameters, options.suffix, options.seed,
        )  # fmt: skip

    @property
    def options(self) -> JobOptions:
        return JobOptions(self.base_model, self.method, self.hyperparameters, self.suffix,
                          self.seed)  # fmt: skip

    def api_arguments(self) -> dict[str, Any]:
        settings = {"hyperparameters": self.hyperparameters.for_method(self.method)}
        arguments: dict[str, Any] = {
            "model": self.base_model,
            "training_file": self.training_file,
            "method": {"type": self.method, self.method: settings},
        }
        optional = {"validation_file": self.validation_file, "suffix": self.suffix,
                    "seed": self.seed, "metadata": self.metadata or None}  # fmt: skip
        arguments.update({name: value for name, value in optional.items() if value is not None})
        return arguments


@dataclass(frozen=True)
class JobUpdate:
    """What changed in one poll: the job, and events and checkpoints not seen before."""

    job: JobSnapshot
    events: list[JobEvent]
    checkpoints: list[Checkpoint]


def _check(name: str, value: float, bounds: Bounds, *, whole: bool = False) -> None:
    if not bounds.admits(value) or (whole and value != int(value)):
        kind = "a whole number " if whole else ""
        raise InvalidJobRequest(
            f"The {name} {value:g} is out of range: OpenAI takes {kind}{bounds.describe()}.",
            hint=f"Change the {name}, or leave it out to let OpenAI choose.",
        )
