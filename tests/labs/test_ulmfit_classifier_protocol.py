"""ulmfit-classifier's protocol: every recipe tuned the same way on the same budget, a verdict that stays
inconclusive without an effect, and real reviews read from a file (tiny models, no network)."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from cards.paths import Home
from labs._experiment import SeedResults
from labs._finetune import load_split
from labs.fork_pool import HELPERS_ENV
from labs.labdir import load_lab_module
from labs.registry import get_lab
from labs.runner import LabRun
from labs.verdict import judge_rivals
from tests.labs.test_ulmfit_labs import texts_of

LAB = "ulmfit-classifier"
# Tiny everything, but the quick preset (smoke gives no verdict by design).
TINY = {
    "emb_sz": 16,
    "n_hid": 32,
    "n_layers": 1,
    "labels": 16,
    "tune_docs": 8,
    "holdout_docs": 16,
    "max_words": 20,
    "review_docs": 40,
    "lm_epochs": 1,
    "pretrain_corpus": "generated",
    "pretrain_docs": 40,
    "pretrain_epochs": 1,
    "lrs": "0.01",
    "bs": 8,
}


def write_texts_csv(path: Path, n_rows: int, random_labels: bool = False) -> Path:
    """IMDB_SAMPLE's format (label,text,is_valid); with `random_labels` no word tells the label."""
    rng = random.Random(0)
    words = ["film", "plot", "actor", "scene", "music", "story", "camera", "ending"]
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["label", "text", "is_valid"])
        for i in range(n_rows):
            if random_labels:
                label = rng.choice(["negative", "positive"])
                text = " ".join(rng.choice(words) for _ in range(12))
            else:
                label = "positive" if i % 2 else "negative"
                text = f"Review {i} : the {rng.choice(words)} was {'good' if i % 2 else 'bad'} ."
            writer.writerow([label, text, i % 4 == 0])
    return path


def run_lab(
    tmp_path: Path, preset: str, data: Path | None = None, lab_id: str = LAB, **overrides: object
) -> LabRun:
    home = Home.at(tmp_path / "home").ensure()
    run = LabRun(
        get_lab(lab_id),
        preset=preset,
        home=home,
        runs_dir=home.runs_dir,
        data=str(data) if data else None,
        overrides=overrides,
        device="cpu",
    ).start()
    run.join(timeout=300)
    assert run.status == "finished", run.record.error
    return run


def test_the_split_is_fixed_and_the_held_out_rows_are_the_files_validation_rows(tmp_path: Path) -> None:
    data = write_texts_csv(tmp_path / "texts.csv", 80)
    split = load_split(data, labels=20, tune_docs=10, holdout_docs=50, lm_docs=0, max_words=3)
    assert len(split.holdout[0]) == 20  # every 4th of 80 rows is a validation row
    assert (len(split.train[0]), len(split.tune[0])) == (20, 10)
    assert not set(split.holdout[0]) & set(split.train[0] + split.tune[0])
    assert all(len(text.split()) <= 3 for text in split.train[0])
    assert split.lm_texts and all(len(text.split()) <= 3 for text in split.lm_texts)  # what the LM learns
    again = load_split(data, labels=20, tune_docs=10, holdout_docs=50, lm_docs=0, max_words=3)
    assert again.train == split.train and again.holdout == split.holdout  # one split for every run


def test_the_encoder_one_classifier_lab_fine_tuned_serves_the_other_as_it_is(tmp_path: Path) -> None:
    """Each review names its own number, so the encoder's vocabulary knows under 90 % of their words; but
    as many as one fine-tuned on them again would: the next lab reuses it."""
    data = write_texts_csv(tmp_path / "texts.csv", 120)
    first = run_lab(tmp_path, "smoke", data=data, lab_id="discriminative-lr")
    assert "fine-tuning one here" in texts_of(first)
    second = run_lab(tmp_path, "smoke", data=data)
    assert "made by an earlier lab" in texts_of(second) and "fine-tuning one here" not in texts_of(second)


def test_real_reviews_every_recipe_tuned_on_the_same_grid_and_budget(tmp_path: Path) -> None:
    data = write_texts_csv(tmp_path / "texts.csv", 120)
    run = run_lab(tmp_path, "smoke", data=data)
    assert run.record.data["source"] == "real"
    tuning = run.result["tuning"]
    arms = set(load_lab_module(get_lab(LAB)).PAPER_ERROR)
    assert set(tuning["scores"]) == set(tuning["chosen"]) == set(tuning["epochs"]) == arms
    assert {tuple(scores) for scores in tuning["scores"].values()} == {
        tuple(f"{lr:g}" for lr in tuning["grid"])
    }
    assert len(set(tuning["epochs"].values())) == 1  # the same budget
    assert all(lr in tuning["grid"] for lr in tuning["chosen"].values())
    assert tuning["split"] == "tuning"
    assert run.result["verdict"]["agrees"] is None and run.result["outcome"] is None  # smoke: no verdict


def test_a_helper_process_changes_no_number_of_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every fit is its own experiment (reseeded, its own model): tuning, held-out runs and the recorded
    stages give the same numbers whether a helper process trains some of them or the lab's process all."""
    data = write_texts_csv(tmp_path / "texts.csv", 80)
    results = {}
    for helpers in ("0", "1"):
        monkeypatch.setenv(HELPERS_ENV, helpers)
        run = run_lab(tmp_path / helpers, "quick", data=data, seeds=2, **TINY)
        results[helpers] = {key: run.result[key] for key in ("per_seed", "tuning", "stage_accuracy")}
        assert results[helpers]["stage_accuracy"]
    assert results["0"] == results["1"]


def test_no_effect_reviews_give_no_verdict(tmp_path: Path) -> None:
    """Labels no word predicts: the recipes can only differ by chance, and three seeds must not decide."""
    data = write_texts_csv(tmp_path / "texts.csv", 80, random_labels=True)
    run = run_lab(tmp_path, "quick", data=data, seeds=3, **TINY)
    verdict = run.result["verdict"]
    assert verdict["seeds"] == 3
    assert verdict["agrees"] is None and run.result["outcome"] is None
    assert run.result["near_chance"]  # and the lab says the classifiers barely beat a coin toss


@pytest.mark.parametrize("seeds", [3, 5])
def test_the_decision_on_no_effect_seeds_rarely_decides(seeds: int) -> None:
    """Null calibration of the lab's comparisons: four recipes with the same true accuracy, seed noise
    only; a verdict either way must be rare (about 5 % at most, Holm over the two comparisons)."""
    lab = load_lab_module(get_lab(LAB))
    rng = random.Random(seeds)
    decided = 0
    trials = 400
    for _ in range(trials):
        results = SeedResults("held-out accuracy", higher_is_better=True)
        for arm in lab.PAPER_ERROR:
            for _ in range(seeds):
                results.add(arm, 0.75 + rng.gauss(0, 0.03))
        comparisons = {name: results.differences(a, b) for name, a, b in lab.GRADUAL}
        decided += judge_rivals(lab.CLAIM, comparisons).agrees is not None
    assert decided / trials <= 0.08
