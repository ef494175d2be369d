"""The tabular lab's experiment: embeddings against integer codes, tuned alike, judged over seeds."""

from __future__ import annotations

import math
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from engine.datasets.tabular import ADULT_COLUMNS
from labs._census import CAT_NAMES, CONT_NAMES, codes_as_numbers, missingness_rates
from labs.events import BatchLoss, TableOutput, TextOutput
from labs.labdir import load_lab_module
from labs.registry import get_lab
from labs.runner import LabRun
from labs.verdict import judge_seeds, standard_error
from tests.labs.test_lab_smoke import check_smoke_run


def lab_module() -> ModuleType:
    return load_lab_module(get_lab("tabular"))


def finished_run(tmp_path: Path, **kwargs: object) -> tuple[LabRun, list]:
    overrides = kwargs.pop("overrides", {})
    run = LabRun(
        get_lab("tabular"), preset="smoke", overrides=overrides, device="cpu", runs_dir=tmp_path, **kwargs
    ).start()
    events = list(run.iter_events())
    assert run.join(timeout=60)
    assert run.status == "finished", run.record.error
    return run, events


def test_both_arms_get_the_same_grid_and_budget(tmp_path: Path) -> None:
    """On a smoke run of 2 seeds, which also makes every lab's smoke checks and tabular's own (the _na
    column, a prediction): one lab run, a child that imports torch, serves both."""
    run, events = finished_run(tmp_path, overrides={"seeds": 2})
    check_smoke_run(run, events, tmp_path)
    result = run.result or {}
    tuning = result["tuning"]
    assert set(tuning) == {"embeddings", "integer codes"}
    assert list(tuning["embeddings"]) == list(tuning["integer codes"]) and len(tuning["embeddings"]) == 3
    for arm, lr in result["chosen_lr"].items():  # each arm keeps the best of its own grid
        best = max(tuning[arm].values())
        assert tuning[arm][f"{lr:.3g}"] == best
    steps: dict[str, int] = {}
    for event in events:
        if isinstance(event, BatchLoss):
            steps[event.series] = max(steps.get(event.series, 0), event.step)
    fits = {name: count for name, count in steps.items() if not name.endswith("valid")}
    per_arm = {arm: [n for name, n in fits.items() if f" {arm} " in f" {name} "] for arm in tuning}
    assert len(per_arm["embeddings"]) == len(per_arm["integer codes"]) == 4  # 3 tuning fits + seed 2
    assert set(per_arm["embeddings"]) == set(per_arm["integer codes"]) and len(set(fits.values())) == 1
    held_out = next(
        e for e in events if isinstance(e, TableOutput) and e.title.startswith("held-out accuracy")
    )
    assert held_out.columns == ["seed", "embeddings", "integer codes"] and len(held_out.rows) == 4

    processed = next(e for e in events if isinstance(e, TableOutput) and "after the procs" in e.title)
    by_column = {row[0]: row for row in processed.rows}
    assert "age_na" in by_column and by_column["age_na"][4] == "True"
    texts = " ".join(e.text for e in events if isinstance(e, TextOutput))
    assert "(the training median;" in texts and "_na = True" in texts
    assert result["outcome"] is None  # smoke: no verdict
    assert set(result["chosen_lr"]) == {"embeddings", "integer codes"}
    assert run.predictor is not None
    assert run.predictor("age=30, workclass=Private").split(" ")[0] in {"<50k", ">=50k"}


def no_effect_census(n_rows: int, seed: int) -> pd.DataFrame:
    """Census-shaped rows whose salary depends on age alone: the categories carry nothing."""
    rng = np.random.default_rng(seed)
    age = rng.integers(17, 80, n_rows).astype(float)
    frame = pd.DataFrame(
        {
            "age": age,
            "fnlwgt": rng.lognormal(12, 0.5, n_rows),
            "education-num": rng.integers(1, 17, n_rows).astype(float),
        }
    )
    for col in CAT_NAMES:
        frame[col] = rng.choice([f"{col}-{i}" for i in range(6)], n_rows)
    odds = 1 / (1 + np.exp(-(age - 45) / 6))
    frame["salary"] = np.where(rng.random(n_rows) < odds, ">=50k", "<50k")
    return frame


def test_categories_that_carry_nothing_give_inconclusive() -> None:
    lab = lab_module()
    frame = no_effect_census(900, seed=5)
    block, train, tune, holdout = lab.split_rows(len(frame), 0, 0)
    assert block == [] and len(holdout) > 150
    frames = {lab.EMBEDDINGS: frame, lab.CODES: codes_as_numbers(frame, train, CAT_NAMES)}
    columns = lab.arm_columns(CAT_NAMES, CONT_NAMES)
    accuracy: dict[str, list[float]] = {arm: [] for arm in lab.ARMS}
    rows = [0.0] * len(holdout)
    for seed in (0, 1, 2, 3):
        for arm in lab.ARMS:
            learn = lab.fit_arm(frames[arm], *columns[arm], (train, tune), seed, 3e-2, 4, 64, [16])
            hits = lab.correct_on(learn, frames[arm], holdout)
            accuracy[arm].append(sum(hits) / len(hits))
            rows = [total + (hit if arm == lab.EMBEDDINGS else -hit) for total, hit in zip(rows, hits)]
    differences = [a - b for a, b in zip(accuracy[lab.EMBEDDINGS], accuracy[lab.CODES])]
    by_seeds = judge_seeds(lab.CLAIM, differences, metric="held-out accuracy")
    verdict = lab.with_row_noise(by_seeds, standard_error([total / 4 for total in rows]))
    assert by_seeds.agrees is None and verdict.agrees is None, verdict
    assert verdict.seeds == 4 and math.isfinite(verdict.min_detectable_effect)


def adult_csv(path: Path, rows: int) -> Path:
    rng = np.random.default_rng(0)
    lines = [",".join(ADULT_COLUMNS)]
    jobs = ["Adm-clerical", "Exec-managerial", "Sales", "?", ""]
    for i in range(rows):
        education_num = "" if i % 17 == 0 else str(9 + i % 5)
        salary = ">=50k" if rng.random() < 0.3 else "<50k"
        lines.append(
            f"{20 + i % 50},Private,{100000 + i},HS-grad,{education_num},Never-married,{jobs[i % 5]},"
            f"Not-in-family,White,Male,0,0,40,United-States,{salary}"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_file_in_adult_csv_format_is_real_data(tmp_path: Path) -> None:
    path = adult_csv(tmp_path / "adult.csv", 300)
    run, events = finished_run(tmp_path, data=str(path), overrides={"valid_start": 100, "valid_end": 150})
    assert run.record.data["source"] == "real" and run.record.data["rows"] == 300
    assert run.result["split"]["block"] == 50
    holes = next(e for e in events if isinstance(e, TableOutput) and e.title.startswith("does a hole"))
    assert {row[0] for row in holes.rows} == {"education-num", "occupation"}


def test_codes_follow_the_training_categories_and_unseen_ones_are_zero() -> None:
    frame = pd.DataFrame({"job": ["b", "a", "c", None, "b"], "salary": ["<50k"] * 5})
    coded = codes_as_numbers(frame, [0, 1, 3], ["job"])
    assert coded["job"].tolist() == [2.0, 1.0, 0.0, 0.0, 2.0]  # "c" was not in training, None is missing


def test_missingness_rates_compare_missing_and_present_rows() -> None:
    frame = pd.DataFrame({"x": [1.0, None, None, 2.0], "salary": [">=50k", ">=50k", "<50k", "<50k"]})
    assert missingness_rates(frame, ["x"], ">=50k") == [["x", 2, 0.5, 0.5]]


@pytest.mark.parametrize("lr", [0.01])
def test_the_grid_is_the_same_shape_around_any_rate(lr: float) -> None:
    assert lab_module().lr_grid(lr) == pytest.approx([lr / 3, lr, 3 * lr])


def test_an_effect_within_the_held_out_rows_noise_is_inconclusive() -> None:
    lab = lab_module()
    by_seeds = judge_seeds(lab.CLAIM, [-0.0024, -0.0020, -0.0028, -0.0022, -0.0026])  # tight over seeds
    assert by_seeds.agrees is False  # the seeds alone would call it
    widened = lab.with_row_noise(by_seeds, row_noise=0.003)  # the held-out rows cannot tell 0.0024
    assert widened.agrees is None and widened.threshold > 1.96 * 0.003 > abs(widened.effect)
    assert widened.min_detectable_effect > widened.threshold
    clear = lab.with_row_noise(judge_seeds(lab.CLAIM, [0.015, 0.016, 0.014, 0.017, 0.015]), row_noise=0.001)
    assert clear.agrees is True and clear.threshold < clear.effect
    one_seed = judge_seeds(lab.CLAIM, [0.02])
    assert lab.with_row_noise(one_seed, 0.001) == one_seed  # no spread: nothing to widen
