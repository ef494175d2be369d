"""One-cycle: the pure functions and what the scheduler actually sets, step by step."""

from __future__ import annotations

import math

import pytest

from engine.schedules import cos_anneal, exp_anneal, one_cycle_lr, one_cycle_mom
from tests.engine._synthetic import classification_learner


def reference_lr(pos: float, lr_max: float, div: float, div_final: float, pct: float) -> float:
    """The formula written out independently: half-cosine up, then half-cosine down."""
    if pos < pct:
        lo, hi, t = lr_max / div, lr_max, pos / pct
        return lo + (hi - lo) * (1 - math.cos(math.pi * t)) / 2
    hi, lo, t = lr_max, lr_max / div_final, (pos - pct) / (1 - pct)
    return hi + (lo - hi) * (1 - math.cos(math.pi * t)) / 2


def test_cos_and_exp_anneal_end_points() -> None:
    assert cos_anneal(1.0, 3.0, 0.0) == 1.0 and cos_anneal(1.0, 3.0, 1.0) == 3.0
    assert cos_anneal(1.0, 3.0, 0.5) == pytest.approx(2.0)
    assert exp_anneal(1e-7, 10, 0.0) == pytest.approx(1e-7) and exp_anneal(1e-7, 10, 1.0) == pytest.approx(10)
    assert exp_anneal(1e-4, 1e-2, 0.5) == pytest.approx(1e-3)


def test_one_cycle_functions_hit_the_documented_points() -> None:
    assert one_cycle_lr(0.0, 1e-2) == pytest.approx(1e-2 / 25)
    assert one_cycle_lr(0.25, 1e-2) == pytest.approx(1e-2)
    assert one_cycle_lr(1.0, 1e-2) == pytest.approx(1e-2 / 1e5)
    assert one_cycle_mom(0.0) == pytest.approx(0.95)
    assert one_cycle_mom(0.25) == pytest.approx(0.85)
    assert one_cycle_mom(1.0) == pytest.approx(0.95)
    for pos in (0.1, 0.3, 0.6, 0.9):
        assert one_cycle_lr(pos, 3e-3, 10, 1e4, 0.3) == pytest.approx(reference_lr(pos, 3e-3, 10, 1e4, 0.3))


def test_scheduler_sets_lr_and_mom_per_step() -> None:
    learn = classification_learner(n=448, bs=32)  # 336 train rows -> 11 batches; 4 epochs -> 44 steps
    lr_max, div, div_final, pct = 1e-2, 25.0, 1e5, 0.25
    learn.fit_one_cycle(4, lr_max=lr_max, div=div, div_final=div_final, pct_start=pct)
    lrs, moms = learn.recorder.lrs, learn.recorder.moms
    n = len(lrs)
    assert n == 44
    assert lrs[0] == pytest.approx(lr_max / div)
    assert max(lrs) == pytest.approx(lr_max, rel=1e-3)
    assert lrs[-1] == pytest.approx(lr_max / div_final)
    assert moms[0] == pytest.approx(0.95) and min(moms) == pytest.approx(0.85, abs=1e-3)
    assert moms[-1] == pytest.approx(0.95)
    for step in (0, 5, 10, 11, 20, 33, 43):
        pos = step / (n - 1)
        assert lrs[step] == pytest.approx(reference_lr(pos, lr_max, div, div_final, pct), rel=1e-12)
        assert moms[step] == pytest.approx(one_cycle_mom(pos, (0.95, 0.85, 0.95), pct), rel=1e-12)


def test_one_cycle_gives_each_group_its_ladder_rung() -> None:
    learn = classification_learner()
    learn.fit_one_cycle(1, lr_max=slice(1e-4, 1e-2))
    group_lrs = [g["lr"] for g in learn.opt.param_groups]
    ratios = [lr / group_lrs[-1] for lr in group_lrs]
    assert ratios == pytest.approx([1e-2, 10**-1.5, 1e-1, 10**-0.5, 1.0])


def test_bad_one_cycle_arguments() -> None:
    learn = classification_learner()
    with pytest.raises(ValueError, match="pct_start"):
        learn.fit_one_cycle(1, pct_start=1.5)
    with pytest.raises(ValueError, match="div"):
        learn.fit_one_cycle(1, div=0)
