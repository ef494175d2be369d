"""A run's progress over all its fits: steps done, steps planned, and the time left. Torch-free.

Fits may run at once (a lab's helper processes, `labs.fork_pool`), so the plan keeps the steps left of every
open fit, by key: the lab's own process is `OWN`, a helper its own key.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from labs.events import Progress

OWN = "own"


class ProgressPlan:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.done = 0
        self.planned = 0
        self._open: dict[Hashable, int] = {}  # per running fit: its steps still to come
        # The ETA is the time since the first fit started over the steps done since, times the steps left
        # of the whole plan: set-up and evaluation between fits count, so a run of many fits is not
        # promised to end after its first.
        self._first_fit_at: float | None = None
        self._first_fit_step = 0

    def expect(self, steps: int) -> None:
        """The lab declared `steps` more of training (its whole plan, where it can)."""
        self.planned = max(self.planned, self.done + int(steps))

    def fit_started(self, total_steps: int, fit: Hashable = OWN) -> None:
        if self._first_fit_at is None:
            self._first_fit_at, self._first_fit_step = self.clock(), self.done
        self._open[fit] = int(total_steps)
        self.planned = max(self.planned, self.done + sum(self._open.values()))

    def step(self, fit: Hashable = OWN) -> None:
        self.done += 1
        if self._open.get(fit, 0) > 0:
            self._open[fit] -= 1

    def fit_ended(self, fit: Hashable = OWN) -> None:
        self._open.pop(fit, None)

    def progress(self) -> Progress:
        """Short of the end until the run has ended (its Finished fills the bar): a plan the lab did not
        declare whole grows as fits start, and must not read 100% with a stage still to come."""
        done, total = self.done, max(self.planned, self.done + 1)
        measured = done - self._first_fit_step
        seconds = self.clock() - self._first_fit_at if self._first_fit_at is not None else 0.0
        eta = seconds / measured * (total - done) if measured > 0 and seconds > 0 else None
        return Progress(done=done, total=total, eta=eta)
