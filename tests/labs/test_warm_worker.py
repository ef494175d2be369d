"""A lab worker started ahead (`labs.warm`): a run takes it, runs one lab on it and nothing more; a second
lab finds none of the first's state; a worker of another environment is not used; a distributed launch
starts fresh; a waiting worker is ended and reaped when discarded; a pack lab's trust is checked on the
spec the worker receives, after it started."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from labs import warm
from labs.events import Failed
from labs.launch import Launch
from labs.runner import LabRun
from tests.labs.fake_labs import COUNTING
from tests.labs.fake_labs_stateful import STATEFUL
from tests.labs.test_idle_workers import process_state, settle

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
    pytest.mark.usefixtures("warm_lab_worker"),
]


@pytest.fixture(autouse=True)
def no_worker_left() -> Iterator[None]:
    warm.discard()
    yield
    warm.discard()


def gone(pid: int) -> bool:
    """Exited and reaped: no process, not even a <defunct> one."""
    return settle(lambda: process_state(pid) is None, timeout=30)


def finished(run: LabRun) -> dict[str, object]:
    assert run.join(120), "the test lab finishes"
    failure = next((e for e in run.events_since(0) if isinstance(e, Failed)), None)
    assert failure is None, failure.traceback
    assert run.status == "finished" and run.result is not None
    return run.result


def test_a_run_takes_the_waiting_worker_which_runs_only_that_lab(tmp_path: Path) -> None:
    warm.prepare()
    pid = warm.waiting_pid()
    assert pid is not None
    run = LabRun(STATEFUL, preset="smoke", device="cpu", runs_dir=tmp_path).start()
    assert warm.waiting_pid() is None, "taken: the next run needs a worker of its own"
    result = finished(run)
    assert (result["pid"], result["warm"]) == (pid, True)
    assert gone(pid), "a worker runs one lab and exits (reaped by its run)"


def test_a_lab_finds_nothing_an_earlier_lab_left_in_its_process(tmp_path: Path) -> None:
    found = []
    for _ in range(2):
        warm.prepare()
        found.append(finished(LabRun(STATEFUL, preset="smoke", device="cpu", runs_dir=tmp_path).start()))
    first, second = found
    assert first["pid"] != second["pid"] and first["warm"] and second["warm"]
    assert second["runs_before"] == 0, "the lab's module globals start afresh"
    assert (second["default_dtype"], second["grad_enabled"]) == ("torch.float32", True)
    assert second["env_mark"] is None
    assert {k: v for k, v in first.items() if k != "pid"} == {k: v for k, v in second.items() if k != "pid"}


def test_a_worker_started_in_another_environment_is_ended_not_used(tmp_path: Path, monkeypatch) -> None:
    warm.prepare()
    stale = warm.waiting_pid()
    assert stale is not None
    monkeypatch.setenv("CARDLAB_TEST_CHANGED_AFTER_WARMING", "1")
    run = LabRun(COUNTING, preset="smoke", overrides={"steps": 2}, runs_dir=tmp_path).start()
    assert run._process is not None and run._process.pid != stale
    finished(run)
    run.close()
    assert gone(stale)


def test_a_worker_started_in_another_folder_is_ended_not_used(tmp_path: Path, monkeypatch) -> None:
    warm.prepare()
    stale = warm.waiting_pid()
    monkeypatch.chdir(tmp_path)
    run = LabRun(COUNTING, preset="smoke", overrides={"steps": 2}, runs_dir=tmp_path).start()
    assert run._process is not None and run._process.pid != stale
    finished(run)
    run.close()
    assert stale is not None and gone(stale)


def test_a_distributed_launch_starts_torchrun_and_leaves_the_worker_waiting(monkeypatch) -> None:
    started: list[list[str]] = []

    def record(command: list[str], env: dict[str, str], **_: object) -> object:
        started.append(command)
        return object()

    warm.prepare()
    waiting = warm.waiting_pid()
    monkeypatch.setattr("labs.runner.start_process", record)
    run = LabRun(COUNTING, preset="smoke", launch=Launch(nproc=2))
    run._start_process()
    assert started and "torch.distributed.run" in started[0]
    assert warm.waiting_pid() == waiting is not None


def test_discard_ends_and_reaps_the_waiting_worker() -> None:
    warm.prepare()
    warm.prepare()  # one at a time
    pid = warm.waiting_pid()
    assert pid is not None and process_state(pid) not in (None, "Z")
    warm.discard()
    assert warm.waiting_pid() is None
    assert gone(pid)


def test_a_worker_whose_app_closed_the_pipe_before_any_run_exits_quietly() -> None:
    process = warm.start_process(warm.worker_command(warm=True), warm.child_env())
    out, err = process.communicate(input="", timeout=120)
    assert (process.returncode, out) == (0, ""), err


def test_a_pack_lab_edited_after_the_worker_started_does_not_run(tmp_path: Path) -> None:
    from labs import registry
    from labs.packlabs import check_trust, pack_content, register_home_pack_labs, trust_pack
    from tests.tui.study_helpers import make_home
    from tests.tui.test_pack_labs import CODE, write_pack

    home, marker = make_home(tmp_path / "home"), tmp_path / "marker"
    write_pack(home.packs_dir)
    with registry.extra_labs():
        register_home_pack_labs(home)
        content = pack_content(home, "tiny-pack")
        assert content is not None
        trust_pack(home, content)
        info = check_trust(home, registry.get_lab("tiny-lab")).info
    assert info is not None and info.folder is not None
    warm.prepare()
    pid = warm.waiting_pid()
    evil = f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
    (info.folder / "lab.py").write_text(evil + CODE)  # after the worker started, before the run
    lab = LabRun(info, preset="smoke", runs_dir=tmp_path / "runs").start()
    assert lab._process is not None and lab._process.pid == pid
    assert lab.join(120) and lab.status == "failed"
    (failure,) = [event for event in lab.events_since(0) if isinstance(event, Failed)]
    assert "trust its pack again" in failure.error
    assert not marker.exists()
    lab.close()
    assert pid is not None and gone(pid)


def test_the_app_side_hook_is_torch_free() -> None:
    code = "import sys, labs.warm, labs.runner; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_a_waiting_worker_killed_from_outside_is_reaped_and_replaced() -> None:
    import os
    import signal

    warm.prepare()
    killed = warm.waiting_pid()
    assert killed is not None
    os.kill(killed, signal.SIGKILL)
    assert settle(lambda: process_state(killed) in (None, "Z"))
    warm.prepare()
    assert warm.waiting_pid() not in (None, killed)
    assert gone(killed), "no <defunct> worker left"
