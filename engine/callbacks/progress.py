"""Training as plain events (EventStream) and the lesson-style epoch table (ProgressPrinter)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from engine.callbacks.core import Callback
from engine.distributed import is_main_process
from engine.events import BatchEnded, EpochEnded, Event, FitEnded, FitStarted
from engine.utils import format_number


class EventStream(Callback):
    """Call `on_event(event)` with `engine.events` records as training runs.

    `on_event` runs on the training thread: keep it quick (e.g. `queue.put`). BatchEnded is sent every
    `every` training steps (and for the first); the other events always. In a distributed run only rank 0
    sends events (the others train silently).
    """

    order = 90  # after the Recorder, whose values the events carry

    def __init__(self, on_event: Callable[[Event], Any], every: int = 1) -> None:
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.on_event, self.every = on_event, every
        self._start = 0.0
        if not is_main_process():
            self.on_event = _ignore

    def before_fit(self) -> None:
        learn = self.learn
        self._start = time.perf_counter()
        steps = len(learn.dls.train)
        columns = tuple(learn.recorder.columns)
        self.on_event(FitStarted(learn.n_epoch, steps, learn.n_epoch * steps, columns))

    def after_batch(self) -> None:
        learn = self.learn
        if not learn.training or learn.train_iter % self.every:
            return
        recorder = learn.recorder
        lr = self.opt.param_groups[-1]["lr"]
        self.on_event(BatchEnded(learn.train_iter, learn.epoch, learn.loss_value, recorder.smooth_loss, lr))

    def after_epoch(self) -> None:
        self.on_event(EpochEnded(dict(self.learn.recorder.rows[-1])))

    def after_fit(self) -> None:
        error = self.learn.fit_error
        message = None if error is None else f"{type(error).__name__}: {error}"
        self.on_event(FitEnded(self.learn.cancelled, message, time.perf_counter() - self._start))


def _ignore(event: Event) -> None:
    pass


def format_time(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes:02d}:{secs:02d}"


class ProgressPrinter(Callback):
    """Print the per-epoch table like the course notebooks (off by default: pass it in cbs)."""

    order = 90

    def __init__(self, file: TextIO | None = None) -> None:
        self.file = file

    def _print(self, cells: list[str]) -> None:
        if not is_main_process():  # one table for a distributed run, not one per rank
            return
        print(
            "  ".join(cell.ljust(max(len(c), 10)) for cell, c in zip(cells, self._columns)).rstrip(),
            file=self.file or sys.stdout,
            flush=True,
        )

    def before_fit(self) -> None:
        self._columns = self.learn.recorder.columns
        self._print(self._columns)

    def after_epoch(self) -> None:
        row = self.learn.recorder.rows[-1]
        cells = [
            format_time(row[c]) if c == "time" else format_number(row.get(c), digits=6) for c in self._columns
        ]
        self._print(cells)
