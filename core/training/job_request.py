"""What a fine-tuning job is asked to do, and what following one reports.

Plain data with no OpenAI client behind it, so that the command line and the window can
describe jobs without importing the SDK.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from voxdesk.core.training.jobs import Checkpoint, JobEvent, JobSnapshot

Method = Literal["supervised", "dpo"]


@dataclass(frozen=True)
class Hyperparameters:
    n_epochs: int | None = None
    batch_size: int | None = None
    learning_rate_multiplier: float | None = None
    beta: float | None = None  # DPO only: how far the model may move from the base

    def for_method(self, method: Method) -> dict[str, Any]:
        values = {
            "n_epochs": self.n_epochs,
            "batch_size": self.batch_size,
            "learning_rate_multiplier": self.learning_rate_multiplier,
        }
        if method == "dpo":
            values["beta"] = self.beta
        return {name: value for name, value in values.items() if value is not None}


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
