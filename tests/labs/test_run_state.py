"""The one run state: each event folded once, and a saved run reads back as the live one looked."""

from __future__ import annotations

from labs.events import (
    BatchLoss,
    EpochRow,
    Failed,
    Finished,
    LabEvent,
    LrSuggestion,
    Progress,
    StageStarted,
    TextOutput,
)
from labs.run_state import MAX_CURVE_POINTS, RunState
from labs.runs import RunRecord


def running_record(**changes: object) -> RunRecord:
    """A record as the runner starts it: no event folded in yet."""
    header: dict[str, object] = {
        "run_id": "r1",
        "lab_id": "test-lab",
        "preset": "quick",
        "params": {},
        "device": "cpu",
        "seed": 0,
        "data": None,
        "started": "2026-01-01T00:00:00Z",
    }
    return RunRecord(**{**header, **changes})


def two_stage_run(steps: int) -> list[LabEvent]:
    events: list[LabEvent] = [StageStarted(name="data", index=0), TextOutput(text="made 10 rows")]
    events.append(StageStarted(name="fit", index=1))
    for step in range(1, steps + 1):
        events.append(BatchLoss(stage="fit", step=step, epoch=0, loss=1.0 / step))
        events.append(Progress(done=step, total=steps, eta=float(steps - step)))
    events.append(EpochRow(stage="fit", epoch=0, train_loss=0.1, valid_loss=0.2, metrics={}, seconds=1.0))
    events.append(LrSuggestion(name="valley", lr=0.01))
    return events


def test_a_curve_is_thinned_as_it_grows_and_keeps_its_mean() -> None:
    state = RunState()
    steps = 5 * MAX_CURVE_POINTS
    for step in range(1, steps + 1):
        state.apply(BatchLoss(stage="fit", step=step, epoch=0, loss=float(step % 2)))
    curve = state.curves["train"]
    assert MAX_CURVE_POINTS // 2 <= len(curve) <= MAX_CURVE_POINTS
    assert curve[-1][0] == steps  # the last kept point is the last step
    assert abs(sum(loss for _, loss in curve) / len(curve) - 0.5) < 1e-9  # alternating 0/1: mean 0.5


def test_a_validation_point_sits_at_the_latest_step_even_between_kept_points() -> None:
    state = RunState()
    for step in range(1, 2 * MAX_CURVE_POINTS + 2):  # thinned to a stride of 2, one step pending
        state.apply(BatchLoss(stage="fit", step=step, epoch=0, loss=1.0))
    state.apply(EpochRow(stage="fit", epoch=0, train_loss=1.0, valid_loss=0.5, metrics={}, seconds=1.0))
    assert state.valid_curves["train"] == [(2 * MAX_CURVE_POINTS + 1, 0.5)]


def test_stages_and_progress_follow_the_plan_and_stay_short_of_full_until_the_end() -> None:
    state = RunState()
    for event in two_stage_run(steps=10):
        state.apply(event)
        done = state.progress_done()
        assert done is None or done[0] < done[1]  # never full while running
    assert state.stage is not None and state.stage.name == "fit" and state.stages_done == {0}
    state.apply(Progress(done=12, total=10, eta=0.0))  # a stage that needed more steps than planned
    assert state.progress_done() == (12, 13)
    state.apply(Finished(result={"x": 1}, seconds=3.0))
    assert state.progress_done() == (10, 10) and state.stages_done == {0, 1} and state.status == "finished"


def test_only_kept_events_are_outputs_in_the_order_emitted() -> None:
    state = RunState()
    for event in two_stage_run(steps=3):
        state.apply(event)
    kinds = [type(event).__name__ for event in state.outputs]
    assert kinds == ["StageStarted", "TextOutput", "StageStarted", "EpochRow", "LrSuggestion"]
    assert state.lr_suggestions() == {"valley": 0.01}


def test_a_saved_run_reads_back_as_the_live_state_looked() -> None:
    live = running_record()
    for event in [*two_stage_run(steps=4), Failed(error="boom", traceback="tb", at=2.0)]:
        live.apply(event)
    saved = RunRecord.from_json(live.to_json())
    assert saved.outputs == live.outputs
    assert (saved.stage, saved.stages_done, saved.status, saved.error) == (
        live.stage,
        live.stages_done,
        "failed",
        "boom",
    )
    assert saved.curves == live.curves and saved.valid_curves == live.valid_curves
    assert saved.lr_suggestions() == live.lr_suggestions()
