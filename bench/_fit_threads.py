"""How many threads a fit's training steps ran on: torch's count can differ from the bench's --threads,
because the engine trains small CPU steps on one (engine.callbacks.threads.OneThreadForSmallSteps)."""

from __future__ import annotations

import torch

from engine.callbacks import Callback


class FitThreads(Callback):
    """Pass it to fit: `threads` is then the thread counts seen at the training batches, fewest first."""

    order = 100  # after every callback that sets the count

    def __init__(self) -> None:
        self.seen: set[int] = set()

    def before_batch(self) -> None:
        if self.learn.training:
            self.seen.add(torch.get_num_threads())

    @property
    def threads(self) -> list[int]:
        return sorted(self.seen)
