"""Progress over the whole run, on a fake clock: the fraction never reaches 100% before the run ends, and
the ETA of a run of many fits (3 arms × 5 seeds, with set-up and evaluation between fits) is within 30% of
the time really left once a fifth of the run is done."""

from __future__ import annotations

import threading
from pathlib import Path

from cards.paths import Home
from engine.events import BatchEnded, FitEnded, FitStarted
from labs.context import LabContext
from labs.events import LabEvent, Progress
from labs.spec import RunSpec
from tests.labs.fake_labs import COUNTING

ARMS, SEEDS, STEPS = 3, 5, 100
STEP_SECONDS, EVAL_SECONDS, SETUP_SECONDS = 0.02, 0.5, 1.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def simulated_run(tmp_path: Path, declare_plan: bool) -> list[tuple[float, Progress]]:
    """Every Progress the context emits, with the fake time it was emitted at; the run ends at the last."""
    home = Home.at(tmp_path / "home").ensure()
    spec = RunSpec(
        info=COUNTING, params=COUNTING.resolve("quick"), run_id="r", preset="quick", seed=1, home=home
    )
    clock = FakeClock()
    seen: list[tuple[float, Progress]] = []

    def emit(event: LabEvent) -> None:
        if isinstance(event, Progress):
            seen.append((clock.now, event))

    ctx = LabContext(spec, emit, threading.Event())
    ctx.clock = clock
    if declare_plan:
        ctx.expect_steps(ARMS * SEEDS * STEPS)
    clock.now += 2.0  # loading the data, before any fit
    for _ in range(ARMS * SEEDS):
        clock.now += SETUP_SECONDS  # a fresh model for the next arm and seed
        ctx._on_engine_event(FitStarted(n_epoch=1, steps_per_epoch=STEPS, total_steps=STEPS, columns=()))
        for step in range(STEPS):
            clock.now += STEP_SECONDS
            ctx._on_engine_event(BatchEnded(step=step, epoch=0, loss=1.0, smooth_loss=1.0, lr=0.01))
        clock.now += EVAL_SECONDS  # the validation pass at the epoch's end
        ctx._on_engine_event(FitEnded(cancelled=False, error=None, elapsed=0.0))
    return seen


def test_the_eta_of_a_many_fit_run_is_within_30_percent_after_a_fifth(tmp_path: Path) -> None:
    seen = simulated_run(tmp_path, declare_plan=True)
    end = seen[-1][0]
    start = end - (2.0 + ARMS * SEEDS * (SETUP_SECONDS + STEPS * STEP_SECONDS + EVAL_SECONDS))
    checked = 0
    for at, progress in seen:
        truth = end - at
        # from a fifth of the run on, until its last tenth (where a fit's set-up, already paid, is a
        # large share of the few seconds left)
        if at - start < 0.2 * (end - start) or truth < 0.1 * (end - start):
            continue
        assert progress.eta is not None
        assert abs(progress.eta - truth) <= 0.3 * truth, (at - start, progress, truth)
        checked += 1
    assert checked > 20
    plan = ARMS * SEEDS * STEPS
    assert all(progress.total == plan for _, progress in seen if progress.done < plan)


def test_the_fraction_never_reaches_the_end_before_the_run_does(tmp_path: Path) -> None:
    for declared in (True, False):  # with the whole plan declared, and with a lab that declares none
        seen = simulated_run(tmp_path / str(declared), declare_plan=declared)
        assert seen and all(progress.done < progress.total for _, progress in seen), declared
        assert seen[-1][1].done == ARMS * SEEDS * STEPS
