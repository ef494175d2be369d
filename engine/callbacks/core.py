"""Callback base class, the event names, and the cancel exceptions that steer the training loop."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    import torch

    from engine.learner import Learner

# Every event the Learner fires, in the order they happen in one epoch. A callback handles an event by
# defining a method with its name (no arguments); the Learner only calls callbacks that define it.
EVENTS: tuple[str, ...] = (
    "before_fit",
    "before_epoch",
    "before_train",
    "before_batch",
    "after_pred",
    "after_loss",
    "before_backward",
    "after_backward",
    "after_step",
    "after_batch",
    "after_train",
    "before_validate",
    "after_validate",
    "after_epoch",
    "after_fit",
)


class Callback:
    """Base class: subclass, set `order` (lower runs first), and define methods named after EVENTS.

    `self.learn` is the Learner the callback is attached to; read and modify its state there
    (`learn.batch`, `learn.pred`, `learn.loss`, `learn.opt`, ...).
    """

    order: ClassVar[int] = 0
    learn: Learner

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def opt(self) -> torch.optim.Optimizer:
        """The learner's optimizer: fit builds it before the first event, so every event handler has one."""
        if self.learn.opt is None:
            raise RuntimeError(f"{self.name} read the optimizer outside fit, before it was built")
        return self.learn.opt

    def __repr__(self) -> str:
        return f"{self.name}(order={self.order})"


class CancelBatchException(Exception):
    """Skip the rest of this batch (no backward/step if raised before them); after_batch is skipped too."""


class CancelTrainException(Exception):
    """Skip the rest of this epoch's training stage."""


class CancelValidException(Exception):
    """Skip this epoch's validation stage."""


class CancelEpochException(Exception):
    """Skip the rest of this epoch (after_epoch is skipped)."""


class CancelFitException(Exception):
    """Stop training cleanly: fit returns normally with `learn.cancelled == True`; after_fit still runs."""
