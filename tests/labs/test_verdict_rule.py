"""The verdict rule of every lab: a paired t-test over seeds at 95 %, Holm over rivals, no verdict from
one seed or a smoke run, and a false-verdict rate near 5 % when there is no effect (null calibration)."""

from __future__ import annotations

import math
import random

import pytest

from labs._experiment import SeedResults, pick_best, three_way_split
from labs.verdict import ONE_SEED, judge_rivals, judge_seeds, outcome_for, t_cdf, t_quantile

# Student's t quantiles from published tables (df: t_0.975, t_0.80).
T_TABLE = {1: (12.706, 1.376), 2: (4.303, 1.061), 4: (2.776, 0.941), 9: (2.262, 0.883), 30: (2.042, 0.854)}


@pytest.mark.parametrize("df", sorted(T_TABLE))
def test_t_quantiles_match_the_tables(df: int) -> None:
    upper, power = T_TABLE[df]
    assert t_quantile(0.975, df) == pytest.approx(upper, abs=1e-3)
    assert t_quantile(0.80, df) == pytest.approx(power, abs=1e-3)
    assert t_cdf(0.0, df) == pytest.approx(0.5)
    assert t_cdf(-upper, df) == pytest.approx(0.025, abs=1e-4)


def test_the_threshold_is_the_t_quantile_times_the_seed_spread() -> None:
    effects = [0.03, 0.05, 0.01, 0.04, 0.02]  # mean 0.03, sd 0.0158, se 0.00707
    verdict = judge_seeds("claim", effects, metric="accuracy")
    se = 0.0158113883 / math.sqrt(5)
    assert verdict.noise == pytest.approx(se, rel=1e-6)
    assert verdict.threshold == pytest.approx(2.776445 * se, rel=1e-4)
    assert verdict.min_detectable_effect == pytest.approx((2.776445 + 0.940965) * se, rel=1e-4)
    assert verdict.agrees is True and verdict.seeds == 5
    assert verdict.to_dict()["threshold"] == pytest.approx(verdict.threshold, abs=1e-6)


def test_an_effect_of_more_than_one_but_less_than_the_t_threshold_is_inconclusive() -> None:
    # The old rule (|effect| > one standard error) called this a win; 1.6 SE with 5 seeds is not.
    effects = [0.02, -0.01, 0.03, 0.0, 0.01]
    verdict = judge_seeds("claim", effects)
    assert verdict.noise < verdict.effect < verdict.threshold
    assert verdict.agrees is None
    assert outcome_for(verdict, "yes", "no") is None


def test_a_clear_loss_does_not_agree() -> None:
    verdict = judge_seeds("claim", [-0.05, -0.06, -0.04, -0.05, -0.055])
    assert verdict.agrees is False
    assert outcome_for(verdict, "yes", "no") == "no"


def test_one_seed_or_a_smoke_run_gives_no_verdict() -> None:
    single = judge_seeds("claim", [0.5])
    assert single.agrees is None and single.note == ONE_SEED
    assert single.to_dict()["threshold"] is None  # JSON has no infinity
    smoke = judge_seeds("claim", [0.5, 0.6, 0.55], note="smoke runs check the code")
    assert smoke.agrees is None and smoke.note


def test_against_several_rivals_every_one_must_be_beaten() -> None:
    clear = [0.10, 0.12, 0.09, 0.11, 0.10]
    close = [0.01, -0.02, 0.03, 0.00, 0.01]
    verdict = judge_rivals("2.6 beats 1 and 20", {"ratio 1": clear, "ratio 20": close})
    assert verdict.agrees is None  # beats ratio 1, not ratio 20
    assert verdict.effect == pytest.approx(0.006)  # the headline is the closest rival
    assert set(verdict.rivals) == {"ratio 1", "ratio 20"}
    assert judge_rivals("c", {"a": clear, "b": [x + 0.02 for x in clear]}).agrees is True
    assert judge_rivals("c", {"a": clear, "b": [-x for x in clear]}).agrees is False


@pytest.mark.parametrize("seeds", [3, 5, 10])
def test_null_calibration_false_verdicts_near_five_percent(seeds: int) -> None:
    """With no effect, agrees or does not agree in about 5 % of runs, whatever the seed count."""
    rng = random.Random(seeds)
    trials = 4000
    decided = sum(
        judge_seeds("null", [rng.gauss(0.0, 0.02) for _ in range(seeds)]).agrees is not None
        for _ in range(trials)
    )
    assert 0.035 < decided / trials < 0.065


def test_null_calibration_with_rivals_stays_at_or_below_five_percent() -> None:
    rng = random.Random(7)
    trials = 3000
    decided = sum(
        judge_rivals("null", {r: [rng.gauss(0, 1) for _ in range(5)] for r in "ab"}).agrees is not None
        for _ in range(trials)
    )
    assert decided / trials < 0.065


def test_power_a_true_effect_of_the_minimum_detectable_size_is_usually_found() -> None:
    rng = random.Random(3)
    sd, n = 0.02, 5
    mde = (t_quantile(0.975, n - 1) + t_quantile(0.8, n - 1)) * sd / math.sqrt(n)
    found = sum(judge_seeds("c", [rng.gauss(mde, sd) for _ in range(n)]).agrees is True for _ in range(2000))
    assert 0.7 < found / 2000 < 0.9


def test_three_way_split_is_disjoint_and_fixed_by_its_seed() -> None:
    train, tune, holdout = three_way_split(100, 0.2, 0.3, split_seed=1)
    assert (len(train), len(tune), len(holdout)) == (50, 20, 30)
    assert not (set(train) & set(tune) or set(train) & set(holdout) or set(tune) & set(holdout))
    assert three_way_split(100, 0.2, 0.3, split_seed=1) == (train, tune, holdout)
    assert three_way_split(100, 0.2, 0.3, split_seed=2) != (train, tune, holdout)


def test_every_arm_gets_the_same_grid_and_a_diverged_value_is_never_chosen() -> None:
    tried: list[float] = []

    def score(lr: float) -> float:
        tried.append(lr)
        return math.nan if lr == 1.0 else abs(math.log10(lr) + 2)

    best, scores = pick_best([1e-3, 1e-2, 1.0], score)
    assert best == 1e-2 and tried == [1e-3, 1e-2, 1.0] and set(scores) == {1e-3, 1e-2, 1.0}
    assert pick_best([1, 2, 3], lambda v: v, lower_is_better=False)[0] == 3


def test_seed_results_pair_the_arms_seed_by_seed() -> None:
    results = SeedResults("accuracy", higher_is_better=True)
    for a, b in ((0.8, 0.7), (0.82, 0.75)):
        results.add("claimed", a)
        results.add("baseline", b)
    assert results.differences("claimed", "baseline") == pytest.approx([0.1, 0.07])
    columns, rows = results.table([0, 1])
    assert columns == ["seed", "claimed", "baseline"] and rows[-2][0] == "mean" and rows[-1][0] == "sd"
    loss = SeedResults("loss", higher_is_better=False, by_arm={"a": [1.0], "b": [2.0]})
    assert loss.differences("a", "b") == [1.0]
