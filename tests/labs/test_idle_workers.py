"""Finished labs that can predict keep their process for the predictor: after five labs in one session at
most one idle process lives, every ended process is reaped (no <defunct> child), and a released run's
predictor says its model is gone."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from labs import registry
from labs.errors import LabError
from labs.runner import GONE, LabRun
from tests.labs.fake_labs import COUNTING
from tui.lab_runs import LabRuns

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

LABS = tuple(replace(COUNTING, id=f"test-counting-{n}") for n in range(5))


@pytest.fixture(autouse=True)
def five_labs() -> Iterator[None]:
    with registry.extra_labs(*LABS):
        yield


def process_state(pid: int) -> str | None:
    """The kernel's state letter of `pid` (Z: a zombie nobody waited for), None once it is reaped. Read
    without waiting for it, so the test itself reaps nothing."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat.rpartition(")")[2].split()[0]


def settle(condition, timeout: float = 60.0) -> bool:
    """Wait (bounded) for processes told to quit to exit and be reaped; the outcome, not the time, is tested."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_five_finished_labs_leave_one_idle_worker_and_no_zombie(tmp_path: Path) -> None:
    runs = LabRuns()
    started: list[LabRun] = []
    try:
        for lab in LABS:
            run = LabRun(lab, preset="smoke", overrides={"steps": 3}, runs_dir=tmp_path)
            runs.replace(lab.id, run)
            run.start()
            assert run.join(120), "the fake lab finishes"
            assert run.status == "finished"
            started.append(run)
        pids = [run._process.pid for run in started]  # type: ignore[union-attr]

        def alive() -> list[int]:
            return [pid for pid in pids if process_state(pid) not in (None, "Z")]

        def zombies() -> list[int]:
            return [pid for pid in pids if process_state(pid) == "Z"]

        assert settle(lambda: len(alive()) <= 1 and not zombies()), (alive(), zombies())
        assert alive() == [pids[-1]], "the newest finished lab keeps its worker"
        assert runs.idle() == [started[-1]]
        assert started[-1].predictor is not None and started[-1].predictor("a b c") == "3 words"
        for released in started[:-1]:
            assert released.released and released.predictor is None
            with pytest.raises(LabError, match="gone"):
                released._predict("a b")
        assert "run the lab again" in GONE
    finally:
        runs.stop_all()
    assert settle(lambda: all(process_state(run._process.pid) is None for run in started))  # type: ignore[union-attr]
