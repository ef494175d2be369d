"""A lab's fits shared with forked helper processes (labs.fork_pool, LabContext.run_all): the same results
in the items' order, every item's events delivered, a helper's failure or death covered by the lab's
process, helpers gone when the call ends, and no hang where a thread of the lab's process is blocked on
stdin (the worker's command reader)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cards.paths import Home
from engine.events import BatchEnded, FitEnded, FitStarted
from labs.context import LabCancelled, LabContext
from labs.events import BatchLoss, LabEvent, Progress
from labs.fork_pool import HELPERS_ENV, ForkPool, helper_count
from labs.spec import RunSpec
from tests.labs.fake_labs import COUNTING

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="helpers fork on Linux only")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def helpers_by_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HELPERS_ENV, raising=False)  # each test says how many cores there are


def lab_context(tmp_path: Path, events: list[LabEvent], cancel: threading.Event | None = None) -> LabContext:
    home = Home.at(tmp_path / "home").ensure()
    spec = RunSpec(
        info=COUNTING, params=COUNTING.resolve("quick"), run_id="r", preset="quick", seed=1, home=home
    )
    ctx = LabContext(spec, events.append, cancel or threading.Event())
    ctx.device = "cpu"
    return ctx


def fake_fit(ctx: LabContext, name: str, steps: int) -> None:
    """What a watched learner reports for a fit of `steps` steps, drawn as the curve `name`."""
    ctx.curve(name)
    ctx._on_engine_event(FitStarted(n_epoch=1, steps_per_epoch=steps, total_steps=steps, columns=()))
    for step in range(steps):
        ctx._on_engine_event(BatchEnded(step=step, epoch=0, loss=float(step), smooth_loss=1.0, lr=0.01))
    ctx._on_engine_event(FitEnded(cancelled=False, error=None, elapsed=0.0))


def test_the_helper_count_leaves_no_core_idle_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("labs.fork_pool.usable_cores", lambda: 4)
    assert helper_count(12, threads_per_fit=1) == 3
    assert helper_count(2, threads_per_fit=1) == 1  # one item each
    assert helper_count(1, threads_per_fit=1) == 0
    assert helper_count(12, threads_per_fit=2) == 0  # a forked OpenMP pool is not safe to use
    monkeypatch.setenv(HELPERS_ENV, "1")
    assert helper_count(12, threads_per_fit=1) == 1
    monkeypatch.setenv(HELPERS_ENV, "0")
    assert helper_count(12, threads_per_fit=1) == 0
    monkeypatch.setenv(HELPERS_ENV, "6")
    monkeypatch.setattr("labs.fork_pool.usable_cores", lambda: 1)
    assert helper_count(12, threads_per_fit=1) == 6
    assert helper_count(3, threads_per_fit=1) == 2


def test_results_come_back_in_order_with_every_fits_curve_and_the_whole_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("labs.fork_pool.usable_cores", lambda: 3)
    events: list[LabEvent] = []
    ctx = lab_context(tmp_path, events)
    lab_pid, helpers = os.getpid(), tmp_path / "helpers"
    helpers.mkdir()

    def run(item: int) -> tuple[int, bool, int]:
        in_helper = note_helper(helpers, lab_pid)
        if not in_helper:
            wait_for_a_helper(helpers)
        fake_fit(ctx, f"fit {item}", steps=5)
        return item * item, in_helper, os.nice(0)

    results = ctx.run_all(run, list(range(8)))
    assert [square for square, _, _ in results] == [i * i for i in range(8)]
    assert any(in_helper for _, in_helper, _ in results), "no helper took an item"
    own = os.nice(0)
    # a helper yields the CPU to the app and to the lab's own process
    assert all(niceness > own or own == 19 for _, in_helper, niceness in results if in_helper)
    curves: dict[str, list[int]] = {}
    for event in events:
        if isinstance(event, BatchLoss):
            curves.setdefault(event.series, []).append(event.step)
    assert curves == {f"fit {i}": [1, 2, 3, 4, 5] for i in range(8)}
    assert ctx._plan.done == 40
    last = [event for event in events if isinstance(event, Progress)][-1]
    assert last.done == 40 and last.total > 40  # not full before the run has ended


def test_serial_where_helpers_cannot_help(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("labs.fork_pool.usable_cores", lambda: 4)
    ctx = lab_context(tmp_path, [])
    lab_pid = os.getpid()

    def pids(_: int) -> list[int]:
        inner = ctx.run_all(lambda _: os.getpid(), [0, 1, 2])  # nested: runs where it is called
        return [os.getpid(), *inner]

    for row in ctx.run_all(pids, [0, 1, 2, 3]):
        assert len(set(row)) == 1
    ctx.device = "cuda"
    assert ctx.run_all(lambda _: os.getpid(), [0, 1, 2]) == [lab_pid] * 3


@pytest.mark.parametrize("how", ["raises", "dies"])
def test_an_item_a_helper_did_not_return_is_run_by_the_lab_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    monkeypatch.setattr("labs.fork_pool.usable_cores", lambda: 2)
    ctx = lab_context(tmp_path, [])
    lab_pid, helpers = os.getpid(), tmp_path / "helpers"
    helpers.mkdir()

    def run(item: int) -> tuple[int, int]:
        if note_helper(helpers, lab_pid):
            if how == "dies":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError("only in a helper")
        wait_for_a_helper(helpers)
        return item, os.getpid()

    assert ctx.run_all(run, [0, 1, 2, 3]) == [(i, lab_pid) for i in range(4)]
    assert list(helpers.iterdir()) and not still_running(helpers)


def test_an_error_of_the_item_itself_reaches_the_lab_as_without_helpers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("labs.fork_pool.usable_cores", lambda: 2)
    ctx = lab_context(tmp_path, [])
    lab_pid, helpers = os.getpid(), tmp_path / "helpers"
    helpers.mkdir()

    def run(item: int) -> int:
        if not note_helper(helpers, lab_pid):
            wait_for_a_helper(helpers)
        if item == 3:
            raise ValueError("item 3 is broken")
        return item

    with pytest.raises(ValueError, match="item 3 is broken"):
        ctx.run_all(run, list(range(6)))
    assert list(helpers.iterdir()) and not still_running(helpers)


def test_a_cancelled_run_stops_its_helpers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("labs.fork_pool.usable_cores", lambda: 2)
    cancel = threading.Event()
    ctx = lab_context(tmp_path, [], cancel)
    lab_pid, helpers = os.getpid(), tmp_path / "helpers"
    helpers.mkdir()

    def run(item: int) -> int:
        if note_helper(helpers, lab_pid):
            threading.Event().wait()  # a helper's fit that would never end
        wait_for_a_helper(helpers)
        return item

    threading.Timer(1.0, cancel.set).start()
    with pytest.raises(LabCancelled):
        ctx.run_all(run, [0, 1, 2])
    assert list(helpers.iterdir()) and not still_running(helpers)


def note_helper(folder: Path, lab_pid: int) -> bool:
    """In a helper process, leave its pid in `folder`; True there."""
    if os.getpid() == lab_pid:
        return False
    (folder / str(os.getpid())).touch()
    return True


def wait_for_a_helper(folder: Path) -> None:
    """In the lab's process: leave the next items to a helper until one has started on one."""
    for _ in range(600):
        if any(folder.iterdir()):
            return
        time.sleep(0.05)


def still_running(folder: Path) -> list[int]:
    """The noted helpers whose process is still there (not exited and reaped)."""
    pids = [int(path.name) for path in folder.iterdir()]
    return [pid for pid in pids if Path(f"/proc/{pid}").exists()]


def test_no_hang_while_another_thread_is_blocked_reading_stdin() -> None:
    """multiprocessing's Process closes stdin in the child, which waits forever for the lock a blocked
    reader thread holds: helpers are bare forks."""
    script = (
        "import os, sys, threading, time\n"
        "from labs.fork_pool import ForkPool\n"
        "read_end, write_end = os.pipe()  # stdin that stays open, as the app's pipe to a worker does\n"
        "sys.stdin = os.fdopen(read_end)\n"
        "threading.Thread(target=sys.stdin.read, daemon=True).start()\n"
        "time.sleep(0.2)\n"
        "pool = ForkPool(lambda i: i + 1, [0, 1, 2, 3], 1, lambda send: None, lambda h, m: None, lambda: None)\n"
        "print(pool.map())\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the pool hung with a thread blocked on stdin")
    assert done.stdout.strip() == "[1, 2, 3, 4]"


def test_the_pool_alone_maps_without_a_lab() -> None:
    pool: ForkPool[int, int] = ForkPool(
        lambda i: -i, range(5), 2, lambda send: None, lambda h, m: None, lambda: None
    )
    assert pool.map() == [0, -1, -2, -3, -4]


def test_a_counter_lock_left_held_by_a_dead_process_stalls_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process killed while it held the item counter's lock (for microseconds: only the OOM killer could
    hit it there) leaves it held: every process stops claiming, and the lab's process runs every item."""
    monkeypatch.setattr("labs.fork_pool.CLAIM_TIMEOUT", 0.2)
    pool: ForkPool[int, int] = ForkPool(
        lambda i: i * 10, range(4), 1, lambda send: None, lambda h, m: None, lambda: None
    )
    assert pool._next.get_lock().acquire()  # as a process that died holding it
    results: list[list[int]] = []
    mapping = threading.Thread(target=lambda: results.append(pool.map()), daemon=True)
    mapping.start()
    mapping.join(timeout=60)
    assert results == [[0, 10, 20, 30]], "the pool waited for the lock forever"
