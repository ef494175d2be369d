"""Throwaway labs for runner and screen tests: one that trains a toy loop, one that fails, and one with
two scales of loss and a verdict."""

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


# A claim with markup in it: it must reach the screen as typed.
VERDICT_CLAIM = "fine-tuning [b]helps[/b] the classifier"
VERDICTS = {
    "agrees": (
        {
            "claim": VERDICT_CLAIM,
            "agrees": True,
            "effect": 0.12,
            "noise": 0.03,
            "reference": "the lesson fine-tunes a classifier on 25,000 reviews and reaches 94 % accuracy; "
            "this test lab trains nothing of the kind",
        },
        "helps",
    ),
    "disagrees": ({"claim": VERDICT_CLAIM, "agrees": False, "effect": -0.08, "noise": 0.03}, "hurts"),
    "inconclusive": ({"claim": VERDICT_CLAIM, "agrees": None, "effect": 0.01, "noise": 0.03}, None),
}


def run_two_scales(ctx: LabContext) -> dict[str, object]:
    """A language model stage with two curves (loss ~5, perplexity in its rows), then a classifier (~0.01)."""
    with ctx.stage("language model"):
        for series, start in (("general LM", 5.2), ("review LM", 4.9)):
            for step in range(1, 31):
                ctx.emit(
                    BatchLoss(
                        stage="language model", step=step, epoch=0, loss=start - step / 100, series=series
                    )
                )
            ctx.emit(
                EpochRow(
                    stage="language model",
                    epoch=0,
                    train_loss=start - 0.3,
                    valid_loss=start - 0.2,
                    metrics={"accuracy": 0.2, "perplexity": 120.0},
                    seconds=0.1,
                    series=series,
                )
            )
    with ctx.stage("classifier"):
        for step in range(1, 31):
            ctx.emit(BatchLoss(stage="classifier", step=step, epoch=0, loss=0.05 / step, series="classifier"))
        ctx.emit(
            EpochRow(
                stage="classifier",
                epoch=0,
                train_loss=0.01,
                valid_loss=0.012,
                metrics={"accuracy": 0.99},
                seconds=0.1,
                series="classifier",
            )
        )
    ctx.text("The classifier read every review.\nIts accuracy is on the validation reviews.")
    verdict, outcome = VERDICTS[ctx.p.verdict]
    return {"accuracy": 0.99, "outcome": outcome, "verdict": verdict}


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
        Param(
            "delay",
            "float",
            0.01,
            "seconds each batch sleeps, so that a test can cancel a run midway",
            min=0.0,
        ),
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
TWO_SCALES = LabInfo(
    id="test-two-scales",
    title="Two scales (test)",
    summary="A language model, then a classifier, and a verdict.",
    card_ids=(),
    params=(Param("verdict", "choice", "agrees", "which verdict the run returns", choices=tuple(VERDICTS)),),
    presets=_presets(smoke={}, full={}),
    question=Question("Does fine-tuning help?", ("helps", "hurts")),
    module="tests.labs.fake_labs_two_scales",
    steps=("language model", "classifier"),
)

run = run_counting
