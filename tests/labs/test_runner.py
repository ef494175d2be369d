from __future__ import annotations

import time
from pathlib import Path

import pytest

from labs.errors import LabError
from labs.events import BatchLoss, Cancelled, Failed, Finished, StageStarted, TextOutput
from labs.registry import get_lab
from labs.runner import LabRun
from labs.runs import list_runs, load_run, previous_run
from labs.worker import failure_kind


def test_a_lab_runs_to_the_end_and_is_saved(fake_labs: None, tmp_path: Path) -> None:
    run = LabRun(get_lab("test-counting"), preset="smoke", runs_dir=tmp_path).start()
    events = list(run.iter_events())
    assert run.join(timeout=10)
    assert run.status == "finished"
    assert isinstance(events[0], StageStarted) and events[0].index == 0
    assert [e.step for e in events if isinstance(e, BatchLoss)] == list(range(1, 41))
    assert isinstance(events[-1], Finished) and events[-1].result["outcome"] == "down"
    assert any(isinstance(e, TextOutput) for e in events)

    record = load_run(tmp_path, run.run_id)
    assert record.status == "finished"
    assert record.params == {"steps": 40, "delay": 0.0}
    assert len(record.curves["train"]) == 40 and record.curves["train"][-1] == (40, 1 / 40)
    assert record.valid_curves == {"train": [(40, 0.2)]}
    assert record.epochs[0]["metrics"] == {"accuracy": 0.9}
    assert [r.run_id for r in list_runs(tmp_path, "test-counting")] == [run.run_id]
    assert previous_run(tmp_path, "test-counting", exclude=run.run_id) is None
    assert previous_run(tmp_path, "test-counting").run_id == run.run_id


def test_cancel_stops_at_the_next_batch(fake_labs: None, tmp_path: Path) -> None:
    run = LabRun(
        get_lab("test-counting"), overrides={"steps": 10_000, "delay": 0.005}, runs_dir=tmp_path
    ).start()
    cursor = 0
    deadline = time.monotonic() + 20
    while not any(isinstance(e, BatchLoss) for e in run.events_since(0)) and time.monotonic() < deadline:
        cursor = len(run.wait_for_events(cursor, 0.1))
    run.cancel()
    assert run.join(timeout=5)
    events = run.events_since(0)
    assert run.status == "cancelled"
    assert isinstance(events[-1], Cancelled) and events[-1].stage == "count"
    assert sum(isinstance(e, BatchLoss) for e in events) < 10_000
    assert load_run(tmp_path, run.run_id).status == "cancelled"


def test_a_failing_lab_gives_a_failed_event_with_its_message(fake_labs: None, tmp_path: Path) -> None:
    run = LabRun(get_lab("test-failing"), runs_dir=tmp_path).start()
    events = list(run.iter_events())
    assert run.status == "failed"
    failure = events[-1]
    assert isinstance(failure, Failed)
    assert failure.error == "ValueError: the lab broke on purpose"
    assert "raise ValueError" in failure.traceback
    assert load_run(tmp_path, run.run_id).error == failure.error


def test_a_missing_device_fails_with_a_clear_message(fake_labs: None) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    run = LabRun(get_lab("test-counting"), device="cuda").start()
    events = list(run.iter_events())
    assert isinstance(events[-1], Failed)
    assert "CUDA is not available" in events[-1].error


def test_a_missing_data_path_is_refused_before_any_process(fake_labs: None, tmp_path: Path) -> None:
    with pytest.raises(LabError, match="nowhere.csv: no such file or folder"):
        LabRun(get_lab("test-counting"), data=str(tmp_path / "nowhere.csv"))


def test_failure_kinds() -> None:
    from engine.callbacks.guards import TrainingDiverged  # the lab's process knows the real classes

    assert failure_kind(TrainingDiverged(3, 0.1, float("nan"))) == "diverged"
    assert failure_kind(RuntimeError("CUDA out of memory. Tried to allocate")) == "out_of_memory"
    assert failure_kind(ValueError("x")) == "error"


def test_the_full_preset_without_its_dataset_says_how_to_fetch_it_before_any_process(tmp_path: Path) -> None:
    from cards.paths import Home

    with pytest.raises(LabError, match="cardlab data fetch ml-100k") as refused:
        LabRun(get_lab("collab"), preset="full", home=Home.at(tmp_path))
    assert "--preset quick" in str(refused.value)


def test_a_lab_that_imports_no_torch_runs_without_loading_it_seeded_on_the_cpu() -> None:
    from labs import registry
    from tests.labs.fake_labs_plain import PLAIN

    with registry.extra_labs(PLAIN):
        results = []
        for _ in range(2):
            run = LabRun(get_lab(PLAIN.id), preset="smoke", seed=7).start()
            events = list(run.iter_events())
            assert isinstance(events[-1], Finished), events[-1]
            results.append(events[-1].result)
    assert results[0] == results[1]  # the run's seed seeds Python's generator
    assert results[0]["torch_loaded"] is False and results[0]["device"] == "cpu"


def test_a_malformed_event_line_is_skipped_and_the_reader_goes_on(fake_labs: None) -> None:
    run = LabRun(get_lab("test-counting"), preset="smoke")
    for line in ['{"type": "Nope"}', '{"type": "BatchLoss", "stage": "x"}', "[1, 2]", "not json"]:
        run._handle_line(line)
    run._handle_line('{"type": "TextOutput", "text": "still reading", "at": 0.1}')
    assert [e.text for e in run.events_since(0) if isinstance(e, TextOutput)] == ["still reading"]
    assert sum("skipped an unreadable event" in line for line in run._stderr_tail) == 2
