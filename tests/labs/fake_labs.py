"""Throwaway labs for runner and screen tests: one that trains a toy loop, one that fails."""

from __future__ import annotations

import time

from labs.context import LabContext
from labs.events import BatchLoss, EpochRow
from labs.registry import LabInfo, Param, Question, _presets

STEPS = 40


def run_counting(ctx: LabContext) -> dict[str, object]:
    """Emits a falling loss, one batch every `delay` seconds, stopping when cancelled."""
    with ctx.stage("count"):
        ctx.expect_steps(ctx.p.steps)
        for step in range(1, ctx.p.steps + 1):
            ctx.check_cancelled()
            ctx.emit(BatchLoss(stage="count", step=step, epoch=0, loss=1.0 / step))
            time.sleep(ctx.p.delay)
        ctx.emit(
            EpochRow(
                stage="count", epoch=0, train_loss=0.1, valid_loss=0.2, metrics={"accuracy": 0.9}, seconds=0.1
            )
        )
    ctx.text("done counting", kind="explanation")
    ctx.set_predictor(lambda text: f"{len(text.split())} words")
    return {"steps": ctx.p.steps, "outcome": "down"}


def run_failing(ctx: LabContext) -> None:
    with ctx.stage("explode"):
        raise ValueError("the lab broke on purpose")


COUNTING = LabInfo(
    id="test-counting",
    title="Counting (test)",
    summary="A toy loop for tests.",
    card_ids=(),
    params=(
        Param("steps", "int", STEPS, "batches", min=1),
        Param("delay", "float", 0.01, "seconds per batch", min=0.0),
    ),
    presets=_presets(smoke={"delay": 0.0}, full={}),
    question=Question("Will the loss go down?", ("down", "up")),
    module="tests.labs.fake_labs",
    steps=("count",),
)
FAILING = LabInfo(
    id="test-failing",
    title="Failing (test)",
    summary="Raises.",
    card_ids=(),
    params=(),
    presets=_presets(smoke={}, full={}),
    question=None,
    module="tests.labs.fake_labs_failing",
    steps=("explode",),
)

run = run_counting
