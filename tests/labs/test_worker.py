"""Labs run in their own process: a dying process is a failed run, cancel ends it, the app stays torch-free."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from labs.events import Cancelled, Failed, StageStarted
from labs.registry import get_lab
from labs.runner import LabRun
from labs.runs import load_run
from tests.labs.fake_labs_crashing import CRASHING

ROOT = Path(__file__).resolve().parents[2]


def wait_for_stage(run: LabRun, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not any(isinstance(e, StageStarted) for e in run.events_since(0)):
        assert time.monotonic() < deadline, "the lab never started"
        run.wait_for_events(0, 0.05)


def test_a_lab_that_exits_leaves_a_failed_run(tmp_path: Path) -> None:
    run = LabRun(CRASHING, overrides={"how": "exit"}, runs_dir=tmp_path).start()
    assert run.join(timeout=60)
    failure = run.events_since(0)[-1]
    assert run.status == "failed" and isinstance(failure, Failed)
    assert failure.error == "the lab's process died: exit code 1"
    assert load_run(tmp_path, run.run_id).status == "failed"


def test_a_lab_that_segfaults_leaves_a_failed_run(tmp_path: Path) -> None:
    run = LabRun(CRASHING, overrides={"how": "segv"}, runs_dir=tmp_path).start()
    assert run.join(timeout=60)
    failure = run.events_since(0)[-1]
    assert isinstance(failure, Failed) and failure.error == "the lab's process died: signal 11"


def test_cancel_ends_the_process_of_a_lab_that_ignores_it(tmp_path: Path) -> None:
    """After CANCEL_GRACE the runner ends the process itself (SIGTERM); no clock is read, so a loaded
    machine cannot fail this."""
    run = LabRun(CRASHING, overrides={"how": "hang"}, runs_dir=tmp_path).start()
    wait_for_stage(run)
    run.cancel()
    assert run.join(timeout=60), "the lab's process outlived its cancel"
    assert run._process is not None and run._process.wait(60) == -signal.SIGTERM, "ended by the runner"
    ended = run.events_since(0)[-1]
    assert isinstance(ended, Cancelled) and ended.stage == "crash"
    assert run.status == "cancelled"


def test_cancel_stops_a_training_lab_by_itself(fake_labs: None) -> None:
    """The training loop sees the request at its next batch and the process exits cleanly: it is not the
    runner's SIGTERM after the grace that ends it."""
    run = LabRun(get_lab("test-counting"), overrides={"steps": 100_000, "delay": 0.01}).start()
    wait_for_stage(run)
    run.cancel()
    assert run.join(timeout=60) and run.status == "cancelled"
    assert run._process is not None and run._process.wait(60) == 0, "the lab ended, not killed"


def test_the_predictor_answers_across_the_process(fake_labs: None) -> None:
    run = LabRun(get_lab("test-counting"), preset="smoke").start()
    assert run.join(timeout=60) and run.status == "finished"
    assert run.predictor is not None
    assert run.predictor("one two three") == "3 words"
    assert run.predictor("four") == "1 words"
    run.close()


HARNESS = """
import sys
from labs import registry
from labs.runner import LabRun
from tests.labs.fake_labs import COUNTING
registry.add_labs(COUNTING)
run = LabRun(registry.get_lab("test-counting"), preset="smoke").start()
events = list(run.iter_events())
print(run.status, run.predictor("a b") if run.predictor else None, "torch" in sys.modules)
"""


def test_the_app_process_never_imports_torch() -> None:
    out = subprocess.run(
        [sys.executable, "-c", HARNESS], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["finished", "2", "words", "False"]
