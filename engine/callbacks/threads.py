"""OneThreadForSmallSteps: a CPU fit whose steps are too small to share between threads trains on one.

torch splits an op across its threads from 32k elements on. Each split wakes the threads that sleep
between ops, and on a virtual machine whose idle vCPUs halt that wake costs hundreds of microseconds: more
than a small step's arithmetic saves. Fits of the lesson's tabular model on UCI adult (28k dense weights),
fit_one_cycle(3), 2 threads with idle threads sleeping against 1, torch 2.13, this project's 2-core machine
(median of 2 runs each):

    batch rows         512     1,024   1,536   2,048   8,192
    2 threads, s       0.80    0.49    0.40    0.39    0.29
    1 thread, s        0.44    0.34    0.36    0.35    0.43

and the collab dot model (no dense weights), 5 epochs of 100k ratings at bs 1,024: 0.82 s against 0.49 s.
So a step of fewer than SMALL_STEP_MACS multiply-adds (batch rows x dense weights) runs on one thread.
The rule fits models whose every row passes once through their Linear layers (tabular, collab, cold
start); the factories of those learners attach it. Sequence models do more work per row and keep their
threads.
"""

from __future__ import annotations

import torch
from torch import nn

from engine.callbacks.core import Callback

SMALL_STEP_MACS = 40_000_000  # between the 1,024-row (29M) and 1,536-row (43M) tabular steps above


def dense_weights(model: nn.Module) -> int:
    """The multiply-adds one row costs in the model's Linear layers: the sum of their weights' sizes."""
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Linear))


def is_small_step(rows: int, model: nn.Module) -> bool:
    """True where a training batch of `rows` through `model` is under SMALL_STEP_MACS multiply-adds."""
    return rows * dense_weights(model) < SMALL_STEP_MACS


class OneThreadForSmallSteps(Callback):
    """Trains on one thread for the fit where the steps are small and on the CPU (see the module's
    docstring); the thread count is restored however the fit ends."""

    order = -90  # before the callbacks whose work runs inside the fit

    def __init__(self) -> None:
        self._threads_before: int | None = None

    def before_fit(self) -> None:
        rows = getattr(self.learn.dls.train, "batch_size", None)
        threads = torch.get_num_threads()
        if self.learn.device.type != "cpu" or threads == 1 or not isinstance(rows, int):
            return
        if is_small_step(rows, self.learn.model):
            self._threads_before = threads
            torch.set_num_threads(1)

    def after_fit(self) -> None:
        if self._threads_before is not None:
            torch.set_num_threads(self._threads_before)
            self._threads_before = None
