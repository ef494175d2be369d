"""The lab runs of one app, by lab id: owned by the app, so a run outlives the lab screen that started it
(leaving a lab can keep it training; reopening the lab replays it) and quitting can stop every one.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labs.runner import LabRun


class LabRuns:
    def __init__(self) -> None:
        self._runs: dict[str, LabRun] = {}
        self._lock = threading.Lock()  # `stop_all` may run in a worker thread while a screen starts a run

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
            previous.close()

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
