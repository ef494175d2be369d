"""discriminative-lr's protocol: both arms tuned on the same grid and budget, the ratio search and its
random forest, a verdict that stays inconclusive without an effect, real reviews read from a file."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from labs._experiment import SeedResults
from labs._forest import fit_forest
from labs.labdir import load_lab_module
from labs.registry import get_lab
from labs.verdict import judge_seeds
from tests.labs.test_ulmfit_classifier_protocol import TINY, run_lab, write_texts_csv

LAB = "discriminative-lr"


def test_the_forest_finds_the_best_ratio_of_a_smooth_surface() -> None:
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.uniform(0, np.log(10), 40), rng.uniform(-5, -3, 40)])
    y = 0.9 - (x[:, 0] - np.log(3)) ** 2 * 0.05  # best at ratio 3, whatever the rate
    forest = fit_forest(x, y, seed=0)
    grid = np.log([1.0, 1.5, 2.0, 3.0, 5.0, 10.0])
    predicted = forest.predict(np.column_stack([grid, np.full(6, -4.0)]))
    assert int(np.argmax(predicted)) in (2, 3, 4)  # near 3, not at the ends
    assert predicted[3] > predicted[0] and predicted[3] > predicted[5]


def test_real_reviews_both_arms_tuned_alike_and_the_search_includes_the_tuning_runs(tmp_path: Path) -> None:
    data = write_texts_csv(tmp_path / "texts.csv", 120)
    run = run_lab(tmp_path, "smoke", data=data, lab_id=LAB)
    assert run.record.data["source"] == "real"
    tuning = run.result["tuning"]
    lab = load_lab_module(get_lab(LAB))
    assert set(tuning["scores"]) == set(tuning["chosen"]) == {lab.ONE, lab.DISCR}
    grid = tuple(f"{lr:g}" for lr in tuning["grid"])
    assert all(tuple(scores) == grid for scores in tuning["scores"].values())
    assert len(set(tuning["epochs"].values())) == 1
    search = run.result["search"]
    sources = [trial["from"] for trial in search["trials"]]
    assert sources.count("tuning grid") == 2 * len(grid)
    assert sources.count("random") == get_lab(LAB).resolve("smoke", {})["search_trials"]
    assert 1 <= search["rank_of_2_6"] <= search["ratios_read"]
    assert run.result["verdict"]["agrees"] is None  # smoke: no verdict


def test_no_effect_reviews_give_no_verdict(tmp_path: Path) -> None:
    data = write_texts_csv(tmp_path / "texts.csv", 80, random_labels=True)
    run = run_lab(tmp_path, "quick", data=data, lab_id=LAB, seeds=3, search_trials=1, epochs=1, **TINY)
    assert run.result["verdict"]["seeds"] == 3
    assert run.result["verdict"]["agrees"] is None and run.result["outcome"] is None
    assert run.result["near_chance"]


def test_the_decision_on_no_effect_seeds_rarely_decides() -> None:
    lab = load_lab_module(get_lab(LAB))
    rng = random.Random(1)
    decided = 0
    for _ in range(400):
        results = SeedResults("held-out accuracy", higher_is_better=True)
        for arm in (lab.ONE, lab.DISCR):
            for _ in range(5):
                results.add(arm, 0.75 + rng.gauss(0, 0.03))
        decided += judge_seeds(lab.CLAIM, results.differences(lab.DISCR, lab.ONE)).agrees is not None
    assert decided / 400 <= 0.08
