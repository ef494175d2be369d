"""Labs on several processes through torchrun (gloo on CPU): one node with 2 processes, and 2 "nodes" on one
machine (two torchrun invocations meeting on 127.0.0.1) that save exactly one run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labs.events import BatchLoss, EpochRow
from labs.launch import Launch, torchrun_failure
from labs.runner import LabRun
from tests.engine._dist import free_port
from tests.labs.fake_labs_distributed import DISTRIBUTED


def saved_runs(runs_dir: Path) -> list[Path]:
    return sorted(runs_dir.glob("*/run.json"))


def test_two_nodes_on_one_machine_finish_and_save_one_run(tmp_path: Path) -> None:
    runs_dir, port = tmp_path / "runs", free_port()
    runs = [
        LabRun(
            DISTRIBUTED,
            preset="smoke",
            device="cpu",
            runs_dir=runs_dir,
            launch=Launch(nproc=1, nnodes=2, node_rank=rank, master_addr="127.0.0.1", master_port=port),
        )
        for rank in (0, 1)
    ]
    for run in runs:
        run.start()
    for run in runs:
        assert run.join(timeout=120), "a node did not finish"
    assert [run.status for run in runs] == ["finished", "finished"], [run.record.error for run in runs]
    assert runs[0].result["world_size"] == 2 and runs[1].result == {}
    rows = [e for e in runs[0].events_since(0) if isinstance(e, EpochRow)]
    assert len(rows) == 2 and not runs[1].events_since(0)[:-1]  # events from rank 0 only
    (saved,) = saved_runs(runs_dir)  # one run, by the node holding rank 0
    assert json.loads(saved.read_text())["run_id"] == runs[0].run_id
    assert (saved.parent / "models" / "tiny.pth").is_file()  # the checkpoint, written by rank 0
    assert [p.name for p in runs_dir.iterdir()] == [runs[0].run_id]


def test_cancelling_a_two_process_run_stops_every_rank(tmp_path: Path) -> None:
    """Only rank 0 hears the cancel; the ranks agree on it at the same batch, and torchrun ends."""
    run = LabRun(
        DISTRIBUTED,
        preset="smoke",
        overrides={"epochs": 10_000, "delay": 0.02},
        device="cpu",
        runs_dir=tmp_path / "runs",
        launch=Launch(nproc=2),
    ).start()
    for event in run.iter_events():
        if isinstance(event, BatchLoss):
            break
    run.cancel()
    assert run.join(timeout=60) and run.status == "cancelled"
    assert run._process.wait(timeout=30) == 0  # torchrun and both ranks ended by themselves, not killed
    assert saved_runs(tmp_path / "runs")


def test_torchrun_failure_names_the_rank() -> None:
    tail = (
        "Failures:\n  <NO_OTHER_FAILURES>\nRoot Cause (first observed failure):\n[0]:\n"
        "  time      : 2026-12-02_00:40:00\n  host      : box\n  rank      : 1 (local_rank: 1)\n"
        "  exitcode  : -9 (pid: 123)\n  error_file: <N/A>\n"
    )
    assert torchrun_failure(tail) == "rank 1 (local rank 1) of the distributed run ended first, with signal 9"
    assert torchrun_failure("no summary") is None


@pytest.mark.parametrize(
    ("launch", "message"),
    [
        ({"nproc": 0}, "at least 1"),
        ({"nnodes": 2, "node_rank": 2}, "--node-rank"),
        ({"master_port": 0}, "TCP"),
    ],
)
def test_bad_launch_options_say_which(launch: dict, message: str) -> None:
    from labs.errors import LabError

    with pytest.raises(LabError, match=message):
        Launch(**launch)
