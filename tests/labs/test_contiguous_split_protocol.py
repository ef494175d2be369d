"""The contiguous-split lab's experiment: two validation splits tuned alike, judged against the future."""

from __future__ import annotations

import math
from pathlib import Path
from types import ModuleType

import numpy as np

from labs._experiment import SeedResults
from labs.events import BatchLoss, TableOutput
from labs.labdir import load_lab_module
from labs.registry import get_lab
from labs.verdict import judge_seeds
from tests.labs._lab_runs import run_lab
from tests.labs._timeseries_helpers import fake_ctx, no_effect_ratings, ratings_csv, sales_csv
from tests.labs.test_lab_smoke import check_smoke_run

LAB = "contiguous-split"


def lab_module() -> ModuleType:
    return load_lab_module(get_lab(LAB))


def test_both_splits_get_the_same_grid_budget_and_size(tmp_path: Path) -> None:
    run, events = run_lab(LAB, tmp_path, timeout=90, seeds=2)
    check_smoke_run(run, events, tmp_path)  # this lab's smoke run: every lab's smoke checks, on 2 seeds
    result = run.result or {}
    assert run.record.data["source"] == "generated" and "std 0.02" in run.record.data["name"]  # drift stated
    scores = result["grid_scores"]
    assert set(scores) == {"random split", "contiguous split"}
    assert (
        list(scores["random split"])
        == list(scores["contiguous split"])
        == [f"{lr:g}" for lr in result["lr_grid"]]
    )
    for arm, lr in result["chosen_lr"].items():  # each split keeps the lr its own validation liked best
        assert scores[arm][f"{lr:g}"] == min(scores[arm].values())
    steps: dict[str, int] = {}
    for event in events:
        if isinstance(event, BatchLoss):
            steps[event.series] = max(steps.get(event.series, 0), event.step)
    per_arm = {arm: [n for name, n in steps.items() if name.startswith(arm)] for arm in scores}
    assert len(per_arm["random split"]) == len(per_arm["contiguous split"]) == 4  # 3 tuning fits + seed 2
    assert set(per_arm["random split"]) == set(per_arm["contiguous split"])  # same rows, same epochs
    gaps = next(e for e in events if isinstance(e, TableOutput) and e.title.startswith("how far"))
    assert gaps.columns == ["seed", "random split", "contiguous split"] and len(gaps.rows) == 4


def test_the_generator_says_it_was_given_drift() -> None:
    lab = lab_module()
    assert "std 0.02" in lab.generator_text(0.02) and "claim is about" in lab.generator_text(0.02)
    assert "no drift" in lab.generator_text(0.0)


def test_rows_with_no_time_structure_give_inconclusive(tmp_path: Path) -> None:
    """Ratings independent of everything: a random and a contiguous validation set are equally honest."""
    lab = lab_module()
    table = no_effect_ratings(1200, seed=3)
    history, future, random_rows, contiguous = lab.split_rows(table, 7, 0.2, 7, 0.2, seed=0)
    assert len(random_rows) == len(contiguous) and contiguous.min() > random_rows.min()
    assert future.min() > history.max()  # the future comes after all the history
    splits = {
        "random split": (np.setdiff1d(history, random_rows), random_rows),
        "contiguous split": (np.setdiff1d(history, contiguous), contiguous),
    }
    ctx = fake_ctx(tmp_path)
    gaps = SeedResults("gap", higher_is_better=False)
    for seed in (0, 1, 2, 3):
        shipped = lab.future_rmse(
            lab.fit_split(ctx, table, (history, contiguous), 1e-2, 1, 64, seed), table, future
        )
        for arm, split in splits.items():
            estimate = lab.validation_rmse(lab.fit_split(ctx, table, split, 1e-2, 1, 64, seed))
            gaps.add(arm, abs(estimate - shipped))
    verdict = judge_seeds(lab.CLAIM, gaps.differences("contiguous split", "random split"))
    assert verdict.agrees is None, verdict
    assert verdict.seeds == 4 and math.isfinite(verdict.min_detectable_effect)


def test_a_ratings_file_is_real_data(tmp_path: Path) -> None:
    path = ratings_csv(tmp_path / "ratings.csv", 400)
    run, _ = run_lab(LAB, tmp_path, data=str(path), timeout=90)
    assert run.record.data["source"] == "real" and run.record.data["rows"] == 400
    assert run.record.data["unit"] == "ratings"


def test_a_store_sales_csv_still_works(tmp_path: Path) -> None:
    path = sales_csv(tmp_path / "sales.csv", stores=3, days=80)
    run, _ = run_lab(LAB, tmp_path, data=str(path), timeout=90)
    assert run.record.data["source"] == "real" and run.record.data["rows"] == 240
    assert run.record.data["unit"] == "store-days"
