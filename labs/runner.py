"""Run a lab in its own process (`python -m labs.worker`) and keep every event it emits.

Consumers (the lab screen, `cardlab lab run`) read the events with `events_since(cursor)`, each
with its own cursor, so a lab screen that is closed and reopened replays the run from the start.
`cancel()` stops the lab at its next training batch (or its next stage), and kills its process if it
has not ended within `CANCEL_GRACE` seconds. `stop()` is the way out for a caller that is about to exit:
cancel, wait (bounded), kill, save the partial run and wait for the process and the reader threads, so
nothing of the run outlives the caller. The app never imports torch: only the lab's process does.
A lab that crashes its process (a segfault, `os._exit`) leaves a Failed run, not a dead app.
With a `labs.launch.Launch` of several processes the child is torchrun, whose rank 0 sends the events;
a node without rank 0 gets none and saves no run (rank 0's node saves it).
"""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from cards.paths import Home
from labs.data_choice import choose_data
from labs.errors import LabError
from labs.events import (
    TERMINAL_EVENTS,
    Cancelled,
    Failed,
    Finished,
    LabEvent,
    StageStarted,
    event_from_dict,
)
from labs.info import LabInfo
from labs.launch import SPEC_ENV, Launch, torchrun_failure
from labs.presets import DEFAULT_PRESET
from labs.runs import RunRecord, new_run_id, save_run
from labs.spec import RunSpec
from labs.warm import child_env, start_process, worker_command
from labs.warm import take as take_warm_worker

RunStatus = Literal["pending", "running", "finished", "failed", "cancelled"]
Predictor = Callable[[str], str]

CANCEL_GRACE = 1.5  # seconds a cancelled lab has to stop by itself before its process is ended
STOP_TIMEOUT = 5.0  # seconds `stop()` waits for a cancelled lab before it kills the process
KILL_WAIT = 2.0  # seconds to wait for a killed process, its last event and its reader threads
PREDICT_TIMEOUT = 120.0
GONE = (
    "this run's trained model is gone: only the latest finished lab keeps its model in memory; "
    "run the lab again to predict"
)


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
        home: Home | None = None,
        cpu_threads: int | None = None,
        launch: Launch | None = None,
    ) -> None:
        self.info = info
        self.launch = launch if launch is not None and launch.distributed else None
        if self.launch is not None and not self.launch.reports:
            runs_dir = None  # the node holding rank 0 saves the run
        self.preset = preset
        _only_trusted_code(info)
        # Both raise LabError before any process starts: bad values, broken checks, a --data of the wrong shape.
        data_choice = choose_data(info, preset, data, home or Home.resolve())
        if data_choice.blocked:
            raise LabError(data_choice.blocked)
        self.params = info.resolve(preset, overrides, generated=not data_choice.real)
        self.runs_dir = runs_dir
        self.run_id = new_run_id(info.id)
        self.spec = RunSpec(
            info=info,
            params=dict(self.params),
            run_id=self.run_id,
            preset=preset,
            device=device,
            seed=seed,
            data=data,
            data_choice=data_choice,
            work_dir=runs_dir / self.run_id if runs_dir is not None else None,
            home=home,
            cpu_threads=cpu_threads,
        )
        self.status: RunStatus = "pending"
        self.result: dict[str, object] | None = None
        self.saved_path: Path | None = None
        self.save_error: OSError | None = None  # why the record could not be saved (a full disk...)
        self.predictor: Predictor | None = None  # set when the lab can predict user input after training
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
        self._ended = threading.Event()
        self._process: subprocess.Popen[str] | None = None
        self._write_lock = threading.Lock()
        self._replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self._predict_lock = threading.Lock()
        self._stderr_tail: deque[str] = deque(maxlen=40)
        self._readers: list[threading.Thread] = []
        self._started_at = 0.0
        self.ended_after: float | None = None  # seconds from start to the run's last event
        self._closed = False  # told to quit: a finished run's trained model is gone with its process
        self._on_end: list[Callable[[LabRun], None]] = []
        self._listeners: list[Callable[[], None]] = []  # woken (from the reader thread) at each change

    @property
    def device(self) -> str:
        return self.spec.device

    @property
    def seed(self) -> int:
        return self.spec.seed

    @property
    def data(self) -> str | None:
        return self.spec.data

    @property
    def home(self) -> Home | None:
        return self.spec.home

    # -- control -------------------------------------------------------------------------------

    def start(self) -> LabRun:
        if self._process is not None:
            raise RuntimeError("a LabRun starts only once; make a new one to run again")
        self.status = "running"
        self._started_at = time.perf_counter()
        self._process = self._start_process()
        if self.launch is None:  # under torchrun the ranks read the spec from the environment
            self._send(self.spec.to_json())
        # Daemons, so a caller that forgets `stop()` can still exit; `stop()` joins them.
        self._readers = [
            threading.Thread(target=self._read_events, name=f"lab-{self.info.id}", daemon=True),
            threading.Thread(target=self._read_stderr, name=f"lab-{self.info.id}-err", daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        return self

    def _start_process(self) -> subprocess.Popen[str]:
        """torchrun for a distributed launch (every rank reads the spec from its environment); else the
        worker started ahead with this environment (`labs.warm`), else a fresh `python -m labs.worker`."""
        env = child_env()
        if self.launch is not None:
            env[SPEC_ENV] = self.spec.to_json()
            return start_process(self.launch.command(), env, dies_with_app=False)
        return take_warm_worker(env) or start_process(worker_command(), env)

    def cancel(self) -> None:
        if self._cancel.is_set() or self.done:
            return
        self._cancel.set()
        self._send(json.dumps({"cancel": True}))
        threading.Thread(target=self._end_process_after_grace, daemon=True).start()

    def close(self) -> None:
        """End the lab's process (it may be waiting to answer predictions): a finished run can predict no
        more. Its reader thread reaps the process once it has exited."""
        self._closed = True
        if self.done:
            self.predictor = None
        self._send(json.dumps({"quit": True}))

    @property
    def idle(self) -> bool:
        """Finished, its process kept alive only to answer predictions (hundreds of MB: the model)."""
        return self.done and self.predictor is not None and not self._closed

    @property
    def released(self) -> bool:
        """Its process was told to end; a finished run's predictor went with it."""
        return self._closed

    def on_end(self, callback: Callable[[LabRun], None]) -> None:
        """Call `callback(run)` once the run has ended (from the reader thread; at once if it has)."""
        with self._changed:
            if not self._ended.is_set():
                self._on_end.append(callback)
                return
        callback(self)

    def kill(self) -> None:
        """End the lab's process now; a run still going ends as cancelled (or failed, if not cancelled)."""
        if self._process is not None and self._process.poll() is None:
            _stop(self._process)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Cancel the run if it is going, wait up to `timeout` seconds for it to end, then kill its process;
        the partial run is saved as cancelled. Returns once the process and the reader threads are gone
        (a few seconds at most), so that nothing of this run is running when the caller exits."""
        if self._process is None:
            return
        self.cancel()
        if not self.join(timeout):
            self.kill()
        self.close()
        try:
            self._process.wait(KILL_WAIT)
        except subprocess.TimeoutExpired:
            self._process.kill()
        self.join(KILL_WAIT)
        for reader in self._readers:
            reader.join(KILL_WAIT)

    @property
    def started(self) -> bool:
        return self._process is not None

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    @property
    def done(self) -> bool:
        return self.status in ("finished", "failed", "cancelled")

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the run to end (its last event); True when it has."""
        if self._process is None:
            return True
        return self._ended.wait(timeout)

    # -- events ---------------------------------------------------------------------------------

    def elapsed(self) -> float:
        return time.perf_counter() - self._started_at if self._started_at else 0.0

    def emit(self, event: LabEvent) -> None:
        """Keep one event (stamped with `at` by the lab's process)."""
        with self._changed:
            self._events.append(event)
            self.record.apply(event)
            self._changed.notify_all()
        self._wake()

    def listen(self, wake: Callable[[], None]) -> None:
        """Call `wake()` after each new event and when the run ends, from the thread reading the lab: it
        must be quick and thread-safe (the lab screen posts itself a message, and reads on its own thread)."""
        with self._changed:
            self._listeners.append(wake)

    def unlisten(self, wake: Callable[[], None]) -> None:
        with self._changed:
            self._listeners = [other for other in self._listeners if other != wake]

    def _wake(self) -> None:
        for wake in list(self._listeners):
            try:
                wake()
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the reader thread
                pass

    @contextlib.contextmanager
    def reading(self) -> Iterator[RunRecord]:
        """The run's state (`labs.run_state.RunState`), held still while a view reads it: the reader
        thread folds the next event in once the view is done."""
        with self._changed:
            yield self.record

    def events_since(self, cursor: int) -> list[LabEvent]:
        with self._changed:
            return self._events[cursor:]

    def wait_for_events(self, cursor: int, timeout: float) -> list[LabEvent]:
        """Events after `cursor`, waiting up to `timeout` seconds for at least one."""
        with self._changed:
            if len(self._events) <= cursor and not self.done:
                self._changed.wait(timeout)
            return self._events[cursor:]

    def wait_for_change(self, seen: int, timeout: float) -> None:
        """Wait up to `timeout` seconds for the state to change from `seen` (its `changes`), or the run to end."""
        with self._changed:
            if self.record.changes == seen and not self.done:
                self._changed.wait(timeout)

    def iter_events(self, poll: float = 0.1) -> Iterator[LabEvent]:
        """Every event, blocking until the run ends (for the command line)."""
        cursor = 0
        while True:
            batch = self.wait_for_events(cursor, poll)
            cursor += len(batch)
            yield from batch
            if self.done and cursor >= len(self.events_since(0)):
                return

    # -- the lab's process ----------------------------------------------------------------------

    def _send(self, line: str) -> None:
        if self._process is None or self._process.stdin is None:
            return  # not started: nothing to tell
        with self._write_lock:
            try:
                self._process.stdin.write(line + "\n")
                self._process.stdin.flush()
            except (OSError, ValueError):
                pass  # the process has ended; its end is reported by the reader

    def _read_events(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            self._handle_line(line)
        returncode = self._process.wait()  # always reaped: no <defunct> child is left behind
        if not self.done:  # the process ended without a last event
            self._end_without_event(returncode)
        self._replies.put({"prediction_error": "the lab's process has ended"})  # wakes a waiting predictor

    def _handle_line(self, line: str) -> None:
        """One line from the lab's process; a malformed one is skipped (said in the stderr tail a failure
        shows): a reader thread that stopped on it would leave the run unended, its followers waiting."""
        try:
            self._handle(line)
        except Exception as error:  # noqa: BLE001 - whatever the line held, the reader goes on
            self._stderr_tail.append(
                f"cardlab: skipped an unreadable event ({type(error).__name__}: {error})"
            )

    def _handle(self, line: str) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        if "type" in message:
            event = event_from_dict(message)
            if isinstance(event, TERMINAL_EVENTS):
                self._finish(event)
            else:
                self.emit(event)
        elif message.get("predictor"):
            self.predictor = self._predict
        else:
            self._replies.put(message)

    def _finish(self, event: LabEvent) -> None:
        if isinstance(event, Finished):
            self.result = dict(event.result)
            self._end("finished", event)
        elif isinstance(event, Failed):
            self._end("failed", event)
        else:
            self._end("cancelled", event)

    def _end_without_event(self, returncode: int) -> None:
        if self._cancel.is_set():
            self._end("cancelled", Cancelled(stage=self._last_stage(), at=round(self.elapsed(), 4)))
            return
        at = round(self.elapsed(), 4)
        if self.launch is not None and not self.launch.reports and returncode == 0:
            self.result = {}
            self._end("finished", Finished(result={}, seconds=at, at=at))  # rank 0's node has the events
            return
        how = f"signal {-returncode}" if returncode < 0 else f"exit code {returncode}"
        error = f"the lab's process died: {how}"
        if self.launch is not None:
            error = torchrun_failure("".join(self._stderr_tail)) or f"torchrun ended with {how}"
        self._end(
            "failed", Failed(error=error, traceback="".join(self._stderr_tail), at=round(self.elapsed(), 4))
        )

    def _last_stage(self) -> str:
        starts = [e for e in self.events_since(0) if isinstance(e, StageStarted)]
        return starts[-1].name if starts else ""

    def _read_stderr(self) -> None:
        """Keep the end of the lab's stderr (its prints, a crash's last words) for a died-run message."""
        assert self._process is not None and self._process.stderr is not None
        for line in self._process.stderr:
            self._stderr_tail.append(line)

    def _end_process_after_grace(self) -> None:
        if self._ended.wait(CANCEL_GRACE) or self._process is None:
            return
        _stop(self._process)

    def _predict(self, text: str) -> str:
        """Ask the lab's process for a prediction (it waits for these after training)."""
        with self._predict_lock:
            self._send(json.dumps({"predict": text}))
            try:
                reply = self._replies.get(timeout=PREDICT_TIMEOUT)
            except queue.Empty:
                raise LabError("the lab did not answer in time") from None
        if "prediction_error" in reply:
            if self._closed:
                raise LabError(GONE)
            raise LabError(str(reply["prediction_error"]))
        return str(reply.get("prediction", ""))

    def _end(self, status: RunStatus, event: LabEvent) -> None:
        self.ended_after = round(self.elapsed(), 1)
        self.emit(event)
        if self.runs_dir is not None:
            try:
                self.saved_path = save_run(self.runs_dir, self.record)
            except OSError as error:
                self.saved_path, self.save_error = None, error
                self.record.error = f"{self.record.error or ''} (run not saved: {error})".strip()
                _remove_if_empty(self.runs_dir / self.run_id)
        with self._changed:
            self.status = status
            self._changed.notify_all()
            self._ended.set()
            callbacks, self._on_end = self._on_end, []
        self._wake()
        for callback in callbacks:
            try:
                callback(self)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the reader thread
                pass


def _only_trusted_code(info: LabInfo) -> None:
    """A pack's lab runs only from its trusted snapshot (`labs.packlabs.check_trust` gives that LabInfo),
    never from the pack's folder, which may have changed since it was trusted."""
    from labs.labdir import PACK_NAMESPACE
    from labs.packlabs import is_snapshot_folder

    if info.module.startswith(f"{PACK_NAMESPACE}.") and not is_snapshot_folder(info.folder):
        raise LabError(
            f"lab {info.id!r} comes with a pack: it runs only from the copy of its code you trusted"
        )


def _remove_if_empty(folder: Path) -> None:
    """An unsaved run leaves no empty folder behind (the lab's process makes it for its files)."""
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty (the lab saved files there), or never made


def _stop(process: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL if the process is still there half a second later."""
    try:
        process.send_signal(signal.SIGTERM)
        process.wait(0.4)
    except subprocess.TimeoutExpired:
        process.kill()
    except OSError:
        pass
