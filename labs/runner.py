"""Run a lab in a background thread and keep every event it emits.

Consumers (the lab screen, `cardlab lab run`) read the events with `events_since(cursor)`, each
with its own cursor, so a lab screen that is closed and reopened replays the run from the start.
`cancel()` stops the lab at its next training batch (or its next stage).
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from labs.events import Cancelled, Failed, FailureKind, Finished, LabEvent
from labs.registry import DEFAULT_PRESET, LabInfo, load_run_function
from labs.runs import RunRecord, new_run_id, save_run

if TYPE_CHECKING:
    from labs.context import LabContext

RunStatus = Literal["pending", "running", "finished", "failed", "cancelled"]
Predictor = Callable[[str], str]


class LabRun:
    def __init__(
        self,
        info: LabInfo,
        *,
        preset: str = DEFAULT_PRESET,
        overrides: Mapping[str, object] | None = None,
        device: str = "auto",
        seed: int = 42,
        data: str | None = None,
        runs_dir: Path | None = None,
        home: object | None = None,
    ) -> None:
        self.info = info
        self.preset = preset
        self.params = info.resolve(preset, overrides)  # raises LabError before any thread starts
        self.device = device
        self.seed = seed
        self.data = data
        self.runs_dir = runs_dir
        self.home = home  # a cards.paths.Home, for `--data NAME` (cached datasets)
        self.run_id = new_run_id(info.id)
        self.status: RunStatus = "pending"
        self.result: dict[str, object] | None = None
        self.saved_path: Path | None = None
        self.predictor: Predictor | None = None  # set by labs that can predict user input after training
        self.record = RunRecord(
            run_id=self.run_id,
            lab_id=info.id,
            preset=preset,
            params=dict(self.params),
            device=device,
            seed=seed,
            data=data,
            started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )
        self._events: list[LabEvent] = []
        self._changed = threading.Condition()
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at = 0.0

    # -- control -------------------------------------------------------------------------------

    def start(self) -> LabRun:
        if self._thread is not None:
            raise RuntimeError("a LabRun starts only once; make a new one to run again")
        self.status = "running"
        self._started_at = time.perf_counter()
        # Daemon: quitting the app must not wait for a training loop.
        self._thread = threading.Thread(target=self._main, name=f"lab-{self.info.id}", daemon=True)
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    @property
    def done(self) -> bool:
        return self.status in ("finished", "failed", "cancelled")

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it has ended."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- events ---------------------------------------------------------------------------------

    def elapsed(self) -> float:
        return time.perf_counter() - self._started_at if self._started_at else 0.0

    def emit(self, event: LabEvent) -> None:
        """Called from the lab's thread (through its context)."""
        event.at = round(self.elapsed(), 4)
        with self._changed:
            self._events.append(event)
            self.record.add(event)
            self._changed.notify_all()

    def events_since(self, cursor: int) -> list[LabEvent]:
        with self._changed:
            return self._events[cursor:]

    def wait_for_events(self, cursor: int, timeout: float) -> list[LabEvent]:
        """Events after `cursor`, waiting up to `timeout` seconds for at least one."""
        with self._changed:
            if len(self._events) <= cursor and not self.done:
                self._changed.wait(timeout)
            return self._events[cursor:]

    def iter_events(self, poll: float = 0.1) -> Iterator[LabEvent]:
        """Every event, blocking until the run ends (for the command line)."""
        cursor = 0
        while True:
            batch = self.wait_for_events(cursor, poll)
            cursor += len(batch)
            yield from batch
            if self.done and cursor >= len(self.events_since(0)):
                return

    # -- the lab's thread -----------------------------------------------------------------------

    def _main(self) -> None:
        ctx: LabContext | None = None
        try:
            from labs.context import LabContext

            ctx = LabContext(self, self.params, cancel_event=self._cancel)
            run = load_run_function(self.info)
            ctx.prepare()
            result = run(ctx)
            self.result = dict(result or {})
            self._end("finished", Finished(result=self.result, seconds=round(self.elapsed(), 3)))
        except BaseException as error:  # every failure must reach the screen, not kill the app
            if _is_cancel(error):
                stage = ctx.current_stage if ctx else ""
                self._end("cancelled", Cancelled(stage=stage))
            else:
                kind = failure_kind(error)
                message = describe_failure(error, kind)
                self._end("failed", Failed(error=message, traceback=traceback.format_exc(), kind=kind))
        finally:
            if ctx is not None:
                ctx.cleanup()

    def _end(self, status: RunStatus, event: LabEvent) -> None:
        self.emit(event)
        if self.runs_dir is not None:
            try:
                self.saved_path = save_run(self.runs_dir, self.record)
            except OSError as error:
                self.saved_path = None
                self.record.error = f"{self.record.error or ''} (run not saved: {error})".strip()
        with self._changed:
            self.status = status
            self._changed.notify_all()


def _is_cancel(error: BaseException) -> bool:
    return type(error).__name__ == "LabCancelled"


def failure_kind(error: BaseException) -> FailureKind:
    name = type(error).__name__
    if name == "TrainingDiverged":
        return "diverged"
    if name in ("OutOfMemoryError", "MemoryError") or "out of memory" in str(error).lower():
        return "out_of_memory"
    return "error"


def describe_failure(error: BaseException, kind: FailureKind) -> str:
    text = str(error) or type(error).__name__
    if kind == "diverged":
        return f"training diverged: {text}. Try a lower learning rate (lr) or run lr-find first."
    if kind == "out_of_memory":
        return f"out of memory: {text}. Try a smaller batch size (bs) or the quick preset."
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    if type(error).__name__ in _SELF_EXPLAINING:
        return text
    return f"{type(error).__name__}: {text}"


# Errors whose message already says what went wrong and what to do; the class name would only add noise.
_SELF_EXPLAINING = {"LabError", "LabDataMissing", "NotFetched", "DatasetError", "UnknownDataset"}
