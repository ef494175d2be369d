"""`cardlab lab run` under SIGTERM and SIGHUP saves the partial run as cancelled; the lab's process never
outlives cardlab, even one killed with SIGKILL (the kernel's parent-death signal, and the closed pipe)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labs.runs import scan_runs
from tests.labs.test_lab_ctrl_c import MARK_VARIABLE, ROOT, processes_marked, start_lab, wait_for_line

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds processes in /proc")

COUNTING = ["test-counting", "--set", "steps=100000", "--set", "delay=0.01"]


def gone(mark: str, but: int | None = None, timeout: float = 60.0) -> bool:
    """True once no process but `but` carries the mark (polled: no wall-clock claim)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if [pid for pid in processes_marked(mark) if pid != but] == []:
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_term_and_hup_save_the_partial_run_as_cancelled(tmp_path: Path, signum: int) -> None:
    home = tmp_path / "home"
    process = start_lab(home, *COUNTING)
    wait_for_line(process, "▶")
    process.send_signal(signum)
    try:
        _, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert process.returncode == 128 + signum, err
    records, damaged = scan_runs(home / "data" / "runs")
    assert damaged == [] and [record.status for record in records] == ["cancelled"]
    assert gone(str(home)), "the lab's process outlived cardlab"


def test_the_lab_dies_with_cardlab_killed_by_sigkill(tmp_path: Path) -> None:
    home = tmp_path / "home"
    process = start_lab(home, "test-crashing", "--set", "how=hang")  # a lab that never looks at cancel
    wait_for_line(process, "▶")
    process.kill()
    process.wait(timeout=60)
    assert gone(str(home)), "the lab's process outlived cardlab"


# A run started from a thread other than the main one (no parent-death signal: the kernel would tie the
# lab to that thread), then its app killed: the closed pipe alone must end a lab that ignores cancel.
FROM_A_THREAD = """
import sys, threading, time
from labs import registry
from labs.runner import LabRun
from tests.labs.fake_labs_crashing import CRASHING
registry.add_labs(CRASHING)
runs = []
threading.Thread(target=lambda: runs.append(LabRun(CRASHING, overrides={"how": "hang"}).start())).start()
while not runs or not runs[0].events_since(0):
    time.sleep(0.05)
print("started", flush=True)
time.sleep(600)
"""


def test_the_lab_dies_with_its_app_when_the_pipe_closes(tmp_path: Path) -> None:
    mark = str(tmp_path)
    env = {**os.environ, MARK_VARIABLE: mark}
    app = subprocess.Popen(
        [sys.executable, "-c", FROM_A_THREAD], cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env
    )
    assert app.stdout is not None and app.stdout.readline().strip() == "started"
    assert len(processes_marked(mark)) == 2
    app.kill()
    app.wait(timeout=60)
    assert gone(mark), "the lab's process outlived its app"
