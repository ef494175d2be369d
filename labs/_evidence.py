"""What a verdict's noise is computed from: per-example results on the validation set, and per-seed
summaries. Imported by lab code only (it needs torch)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine.callbacks.core import Callback
from labs.verdict import paired_noise, standard_error

if TYPE_CHECKING:
    from engine.learner import Learner


def correct_per_example(learn: Learner) -> list[float]:
    """1.0 where the classifier's top class is right, else 0.0, for every validation example."""
    preds, targets = learn.get_preds()
    return (preds.argmax(-1) == targets.reshape(-1)).float().tolist()


def cross_entropy_per_example(learn: Learner) -> list[float]:
    """Each validation example's cross-entropy loss under a classifier."""
    import torch.nn.functional as F

    preds, targets = learn.get_preds()
    return F.cross_entropy(preds.float(), targets.reshape(-1).long(), reduction="none").tolist()


def rmse_noise(*squared: Sequence[float]) -> float:
    """Standard error of a difference of RMSEs measured on separate sets of per-example squared errors
    (the delta method: se(RMSE) = se(MSE) / (2 RMSE))."""
    total = 0.0
    for errors in squared:
        rmse = math.sqrt(sum(errors) / len(errors))
        total += (standard_error(errors) / (2 * rmse)) ** 2 if rmse > 0 else 0.0
    return math.sqrt(total)


def squared_errors(learn: Learner) -> list[float]:
    """Per-example squared error of a regression model on the validation set."""
    preds, targets = learn.get_preds()
    return ((preds.reshape(-1).float() - targets.reshape(-1).float()) ** 2).tolist()


class _ValidBatchLosses(Callback):
    def __init__(self) -> None:
        self.losses: list[float] = []

    def after_loss(self) -> None:
        if not self.learn.training:
            self.losses.append(float(self.learn.loss))


def validate_by_batch(learn: Learner) -> tuple[dict[str, float], list[float]]:
    """`learn.validate()` and the mean loss of each validation batch, in the loader's fixed order (for a
    language model, whose per-token outputs are too many to keep)."""
    recorder = _ValidBatchLosses()
    with learn.added_cbs([recorder]):
        metrics = learn.validate()
    return metrics, recorder.losses


__all__ = ["correct_per_example", "paired_noise", "squared_errors", "validate_by_batch"]
