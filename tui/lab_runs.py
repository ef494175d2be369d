"""The lab runs of one app, by lab id: owned by the app, so a run outlives the lab screen that started it
(leaving a lab can keep it training; reopening the lab replays it) and quitting can stop every one.

A finished lab that can predict keeps its process (and its model, hundreds of MB) to answer; at most one
such idle process lives: when a run ends, the other idle ones are told to quit (their predictor says it
is gone) and their reader threads reap them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labs.runner import LabRun


class LabRuns:
    def __init__(self) -> None:
        self._runs: dict[str, LabRun] = {}
        self._lock = threading.Lock()  # `stop_all` may run in a worker thread while a screen starts a run
        self._unseen: list[LabRun] = []  # ended while their lab screen was not shown
        self._unannounced: list[LabRun] = []  # ... and not yet said in a toast
        self._seen: set[str] = set()  # run ids whose end their lab screen showed
        self._listeners: list[Callable[[], None]] = []
        self._end_listeners: list[Callable[[], None]] = []

    def listen(self, wake: Callable[[], None]) -> None:
        """Call `wake()` whenever a run changes or ends, from the thread reading that lab: it must be quick
        and thread-safe (a widget posts itself a message)."""
        with self._lock:
            self._listeners.append(wake)

    def listen_for_ends(self, ended: Callable[[], None]) -> None:
        """Call `ended()` after any run ends (not at its other changes), from the thread reading that lab:
        it must be quick and thread-safe."""
        with self._lock:
            self._end_listeners.append(ended)

    def unlisten(self, wake: Callable[[], None]) -> None:
        with self._lock:
            self._listeners = [other for other in self._listeners if other != wake]

    def _changed(self) -> None:
        self._call_each(self._listeners)

    def _call_each(self, callbacks: list[Callable[[], None]]) -> None:
        """Call every one of `callbacks` outside the lock (a callback may ask for the runs)."""
        with self._lock:
            callbacks = list(callbacks)
        for callback in callbacks:
            callback()

    def get(self, lab_id: str) -> LabRun | None:
        with self._lock:
            return self._runs.get(lab_id)

    def replace(self, lab_id: str, run: LabRun) -> None:
        """`run` becomes the lab's run; the previous one's process is told to end (it may be waiting to
        answer predictions)."""
        with self._lock:
            previous = self._runs.get(lab_id)
            self._runs[lab_id] = run
            if previous is not None:
                self._forget(previous)
        if previous is not None:
            previous.close()
        run.on_end(self._keep_one_idle)
        run.listen(self._changed)

    def _keep_one_idle(self, ended: LabRun) -> None:
        """`ended` just ended: every other finished run still holding its process lets it go."""
        with self._lock:
            if self._runs.get(ended.info.id) is ended and ended.run_id not in self._seen:
                self._unseen.append(ended)
                self._unannounced.append(ended)
            others = [run for run in self._runs.values() if run is not ended and run.idle]
        for run in others:
            run.close()
        self._changed()  # the run's last wake-up came before it was listed as ended
        self._call_each(self._end_listeners)

    def seen(self, run: LabRun) -> None:
        """Its lab screen showed how `run` ended: the home and study screens need not say it."""
        with self._lock:
            self._seen.add(run.run_id)
            self._forget(run)

    def _forget(self, run: LabRun) -> None:
        self._unseen = [other for other in self._unseen if other is not run]
        self._unannounced = [other for other in self._unannounced if other is not run]

    def unseen_ended(self) -> list[LabRun]:
        """Runs that ended in the background, their end not yet seen on their lab screen."""
        with self._lock:
            return list(self._unseen)

    def take_unannounced(self) -> list[LabRun]:
        """Runs that ended in the background and were not yet said in a toast; each is given once."""
        with self._lock:
            taken, self._unannounced = self._unannounced, []
        return taken

    def idle(self) -> list[LabRun]:
        """Finished runs whose process waits to answer predictions (at most one)."""
        with self._lock:
            return [run for run in self._runs.values() if run.idle]

    def running(self) -> list[LabRun]:
        with self._lock:
            return [run for run in self._runs.values() if not run.done]

    def stop_all(self) -> list[LabRun]:
        """Stop every run (see `LabRun.stop`: cancel, bounded wait, kill, partial run saved) and end every
        lab process; returns the runs that should have been saved and were not."""
        with self._lock:
            runs = list(self._runs.values())
        threads = [threading.Thread(target=run.stop, name=f"stop-{run.info.id}") for run in runs]
        for thread in threads:  # in parallel: quitting waits for the slowest lab, not for their sum
            thread.start()
        for thread in threads:
            thread.join()
        return [run for run in runs if run.save_error is not None]
