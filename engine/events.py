"""Plain, torch-free event records that `EventStream` emits while a Learner trains.

A UI or CLI receives them (often from another thread, e.g. through a queue) and needs no torch to read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FitStarted:
    n_epoch: int
    steps_per_epoch: int
    total_steps: int
    columns: tuple[str, ...]  # the keys of every EpochEnded.row, in table order


@dataclass(frozen=True)
class BatchEnded:
    step: int  # global training step, counting from 0 over the whole fit
    epoch: int
    loss: float
    smooth_loss: float  # debiased exponential moving average, beta=0.98
    lr: float  # learning rate of the last layer group


@dataclass(frozen=True)
class EpochEnded:
    row: dict[str, Any] = field(default_factory=dict)  # epoch, train_loss, valid_loss, metrics..., time


@dataclass(frozen=True)
class FitEnded:
    cancelled: bool  # stopped early by a CancelFitException (e.g. a CancelToken)
    error: str | None  # the message of an exception that ended the fit (e.g. TrainingDiverged), else None
    elapsed: float  # seconds


Event = FitStarted | BatchEnded | EpochEnded | FitEnded
