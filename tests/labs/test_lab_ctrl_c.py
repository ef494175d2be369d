"""`cardlab lab run` and Ctrl-C, as a terminal sends it (SIGINT to cardlab, not to the lab's process):
once cancels and saves the partial run; twice kills the lab at once and still saves; exit 130 both times."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labs.runs import scan_runs

ROOT = Path(__file__).resolve().parents[2]
MARK_VARIABLE = "CARDLAB_TEST_RUN_MARK"  # inherited by the lab's process, so the test can find it

# `cardlab` with the test labs registered (a lab that counts slowly, one that ignores cancel).
CARDLAB_WITH_TEST_LABS = """
import sys
from labs import registry
from tests.labs.fake_labs import COUNTING
from tests.labs.fake_labs_crashing import CRASHING
registry.add_labs(COUNTING, CRASHING)
from tui.cli import main
sys.exit(main(sys.argv[1:]))
"""


def start_lab(home: Path, *args: str) -> subprocess.Popen[str]:
    env = {key: value for key, value in os.environ.items() if key != "CARDLAB_HOME"}
    env[MARK_VARIABLE] = str(home)
    return subprocess.Popen(
        [sys.executable, "-c", CARDLAB_WITH_TEST_LABS, "--home", str(home), "lab", "run", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for_line(process: subprocess.Popen[str], text: str, timeout: float = 60.0) -> None:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    for line in process.stdout:  # the stage line prints once the lab's process is running
        if text in line:
            return
        if time.monotonic() > deadline:
            break
    process.kill()
    pytest.fail(
        f"no {text!r} from `cardlab lab run`; stderr: {process.stderr.read() if process.stderr else ''}"
    )


def processes_marked(mark: str) -> list[int]:
    """Processes whose environment holds `MARK_VARIABLE=mark`: cardlab and the lab processes it started."""
    needle = f"{MARK_VARIABLE}={mark}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a process is POSIX")
@pytest.mark.parametrize(
    ("lab", "presses"),
    [
        (["test-counting", "--set", "steps=100000", "--set", "delay=0.01"], 1),
        (["test-crashing", "--set", "how=hang"], 2),  # a lab that never looks at the cancel flag
    ],
)
def test_ctrl_c_saves_the_partial_run_and_exits_130(tmp_path: Path, lab: list[str], presses: int) -> None:
    home = tmp_path / "home"
    process = start_lab(home, *lab)
    wait_for_line(process, "▶")
    time.sleep(0.5)  # a few batches reach the app
    for _ in range(presses):
        process.send_signal(signal.SIGINT)
        time.sleep(0.2)
    try:
        _, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert process.returncode == 130, err
    assert "Traceback" not in err
    records, damaged = scan_runs(home / "data" / "runs")
    assert damaged == [] and len(records) == 1
    (record,) = records
    assert record.status == "cancelled"
    if lab[0] == "test-counting":
        assert record.curves["train"], "the batches before Ctrl-C are in the saved run"
    folders = list((home / "data" / "runs").iterdir())
    assert [folder.name for folder in folders] == [record.run_id]  # no empty run folder beside it
    if Path("/proc/self/environ").exists():
        assert processes_marked(str(home)) == [], "the lab's process outlived cardlab"
