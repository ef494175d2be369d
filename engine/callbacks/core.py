"""Callback base class, the event names, and the cancel exceptions that steer the training loop."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from engine.learner import Learner
    from engine.optim import OptimizerLike

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
LEVELS: tuple[str, ...] = ("fit", "epoch", "train", "validate", "batch")
# A level ended by its Cancel*Exception fires after_cancel_<level> in place of after_<level>, at every level:
# after_<level> always means "this level ran to its end" (a recorder never logs half a batch), and a
# callback that must tidy up on a cancel (close its last epoch row, stop a timer) handles after_cancel_*.
# The fit level fires after_fit as well, however fit ends, so that every fit's ending is reported.
CANCEL_EVENTS: tuple[str, ...] = tuple(f"after_cancel_{level}" for level in LEVELS)


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
    def opt(self) -> OptimizerLike:
        """The learner's optimizer: fit builds it before the first event, so every event handler has one."""
        if self.learn.opt is None:
            raise RuntimeError(f"{self.name} read the optimizer outside fit, before it was built")
        return self.learn.opt

    def __repr__(self) -> str:
        return f"{self.name}(order={self.order})"


class CancelBatchException(Exception):
    """Skip the rest of this batch (no backward/step if raised before them): after_cancel_batch, not after_batch."""


class CancelTrainException(Exception):
    """Skip the rest of this epoch's training stage: after_cancel_train, not after_train."""


class CancelValidException(Exception):
    """Skip this epoch's validation stage: after_cancel_validate, not after_validate."""


class CancelEpochException(Exception):
    """Skip the rest of this epoch: after_cancel_epoch, not after_epoch."""


class CancelFitException(Exception):
    """Stop training cleanly: fit returns normally with `learn.cancelled == True`; after_cancel_fit, then
    after_fit (which runs however fit ends)."""
