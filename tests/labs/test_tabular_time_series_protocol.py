"""The tabular-time-series lab's experiment: a tabular model and an RNN with the same features and past,
tuned alike, judged on the latest period over seeds."""

from __future__ import annotations

import math
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd

from labs._timeseries import add_lags, history_index, time_splits
from labs.events import BatchLoss
from labs.labdir import load_lab_module
from labs.registry import get_lab
from labs.verdict import judge_seeds
from tests.labs._lab_runs import run_lab
from tests.labs._timeseries_helpers import fake_ctx, no_effect_ratings, ratings_csv, sales_csv
from tests.labs.test_lab_smoke import check_smoke_run

LAB = "tabular-time-series"


def lab_module() -> ModuleType:
    return load_lab_module(get_lab(LAB))


def test_both_arms_get_the_same_grid_and_budget(tmp_path: Path) -> None:
    run, events = run_lab(LAB, tmp_path, timeout=90, seeds=2)
    check_smoke_run(run, events, tmp_path)  # this lab's smoke run: every lab's smoke checks, on 2 seeds
    result = run.result or {}
    scores = result["grid_scores"]
    assert set(scores) == {"tabular", "RNN"}
    assert list(scores["tabular"]) == list(scores["RNN"]) == [f"{lr:g}" for lr in result["lr_grid"]]
    for arm, lr in result["chosen_lr"].items():
        assert scores[arm][f"{lr:g}"] == min(scores[arm].values())
    steps: dict[str, int] = {}
    for event in events:
        if isinstance(event, BatchLoss):
            steps[event.series] = max(steps.get(event.series, 0), event.step)
    per_arm = {arm: sorted(n for name, n in steps.items() if name.startswith(arm + " ")) for arm in scores}
    assert len(per_arm["tabular"]) == len(per_arm["RNN"]) == 5  # 3 tuning fits + 2 seeds
    assert per_arm["tabular"] == per_arm["RNN"]  # the same batches per fit: same rows, bs and epochs


def test_both_arms_see_only_the_past() -> None:
    table = no_effect_ratings(300, seed=0)
    lagged, history = add_lags(table, 5), history_index(table, 5)
    frame = table.frame
    for row in (10, 150, 299):
        same = frame.index[(frame["entity"] == frame["entity"][row]) & (frame.index < row)]
        past = history[row][history[row] >= 0]
        assert list(past) == list(same[-5:])  # the RNN's steps: the entity's last rows, oldest first
        if len(same):
            assert lagged["prev_y"][row] == frame["y"][same[-1]]
            assert math.isclose(lagged["prev_mean"][row], frame["y"][same[-5:]].mean())
        else:
            assert pd.isna(lagged["prev_y"][row])
    earlier, tune, holdout = time_splits(table, 7, 0.2)
    assert frame["time"][earlier].max() <= frame["time"][tune].min()
    assert frame["time"][tune].max() <= frame["time"][holdout].min() and len(holdout) == 60


def test_a_target_with_nothing_to_learn_gives_inconclusive(tmp_path: Path) -> None:
    lab = lab_module()
    table = no_effect_ratings(900, seed=4)
    earlier, tune, holdout = time_splits(table, 7, 0.2)
    trained = np.sort(np.concatenate([earlier, tune]))
    lagged, history = add_lags(table, 5), history_index(table, 5)
    ctx = fake_ctx(tmp_path)
    rmse: dict[str, list[float]] = {arm: [] for arm in lab.ARMS}
    for seed in (0, 1, 2, 3):
        for arm in lab.ARMS:
            rmse[arm].append(
                lab.fit_arm(ctx, arm, table, lagged, history, (trained, holdout), 1e-2, 1, 64, seed)
            )
    differences = [r - t for t, r in zip(rmse["tabular"], rmse["RNN"])]
    verdict = judge_seeds(lab.CLAIM, differences)
    assert verdict.agrees is None, (verdict, rmse)
    assert verdict.seeds == 4 and math.isfinite(verdict.min_detectable_effect)


def test_a_ratings_file_is_real_data(tmp_path: Path) -> None:
    path = ratings_csv(tmp_path / "ratings.csv", 400)
    run, _ = run_lab(LAB, tmp_path, data=str(path), timeout=90)
    assert run.record.data["source"] == "real" and run.record.data["rows"] == 400


def test_a_store_sales_csv_still_works_without_an_open_column(tmp_path: Path) -> None:
    path = sales_csv(tmp_path / "sales.csv", stores=2, days=90, with_open=False)
    run, _ = run_lab(LAB, tmp_path, data=str(path), timeout=90)
    assert run.record.data["source"] == "real" and run.record.data["rows"] == 180
