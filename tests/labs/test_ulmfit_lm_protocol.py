"""ulmfit-lm's protocol: every arm tuned on the same grid and budget, identical arms give no verdict, a
label-free generator gives no trick verdict, real files are reported as real, and the pretraining corpus
never reuses the review generator."""

from __future__ import annotations

from pathlib import Path

import pytest

from cards.paths import Home
from labs._experiment import SeedResults
from labs.fork_pool import HELPERS_ENV
from labs.registry import get_lab
from labs.runner import LabRun
from labs.verdict import judge_seeds
from tests.labs._lab_runs import write_texts_csv


def run_smoke(tmp_path: Path, **kwargs: object) -> LabRun:
    home = Home.at(tmp_path / "home").ensure()
    run = LabRun(get_lab("ulmfit-lm"), preset="smoke", home=home, runs_dir=home.runs_dir, **kwargs).start()
    run.join(timeout=240)
    assert run.status == "finished", run.record.error
    return run


def test_every_arm_is_tuned_on_the_same_grid_and_real_files_are_real(tmp_path: Path) -> None:
    data = write_texts_csv(tmp_path / "texts.csv", 40)
    run = run_smoke(tmp_path, data=str(data))
    assert run.record.data["source"] == "real"
    tables = [e for e in run.record.events if e.get("type") == "TableOutput"]
    tuning = next(t for t in tables if t["title"].startswith("tuning-split loss"))
    grid = [c for c in tuning["columns"] if c.startswith("lr ")]
    assert len(grid) == 3 and [row[0] for row in tuning["rows"]] == [
        "pretrained + fine-tuned",
        "from scratch",
    ]
    assert all(len(row) == 2 + len(grid) for row in tuning["rows"])  # every arm scored at every rate
    assert {f"lr {lr:g}" for lr in run.result["lrs"].values()} <= set(grid)
    assert run.result["verdict"]["agrees"] is None and run.result["trick_verdict"]["agrees"] is None  # smoke


def test_a_helper_process_changes_no_number_of_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every fit reseeds and reads reviews of its own (a shared loader's shuffling would carry on from the
    fit before it): the run's numbers are the same whichever process trains which fit."""
    data = write_texts_csv(tmp_path / "texts.csv", 40)
    results = []
    for helpers in ("0", "1"):
        monkeypatch.setenv(HELPERS_ENV, helpers)
        run = run_smoke(tmp_path / helpers, data=str(data), overrides={"seeds": 2})
        results.append({key: run.result[key] for key in ("held_out_loss", "head_accuracy", "lrs")})
        results[-1]["per_seed"] = run.result["verdict"]["per_seed"]
    assert results[0] == results[1]


def test_identical_arms_and_a_label_free_generator_give_inconclusive() -> None:
    """Two identical arms (same seed, data, budget) differ by exactly nothing; a classifier head on
    reviews whose labels carry no signal finds no difference between the two text sets."""
    import random

    import torch

    from engine.datasets.text import generate_review_corpus
    from engine.text import AWDLSTMConfig, language_model_learner, lm_data
    from labs._review_lm import (
        encoder_features,
        fit_lm_recipe,
        lm_scores,
        lm_text_loader,
        probe_correct,
        review_effects,
    )

    texts, _ = generate_review_corpus(60, seed=3)
    labels = [random.Random(i).choice(["positive", "negative"]) for i in range(60)]  # no signal
    train, test, held = texts[:30], texts[30:45], texts[45:]
    config = AWDLSTMConfig(emb_sz=8, n_hid=16, n_layers=1)
    same = SeedResults("loss", higher_is_better=False)
    per_review: dict[str, list[list[float]]] = {"a": [], "train only": []}
    for seed in range(3):
        for arm, corpus in (("a", train + test), ("b", train + test), ("train only", train)):
            torch.manual_seed(seed)
            data = lm_data(
                corpus + held, bs=4, bptt=8, is_valid=[False] * len(corpus) + [True] * 15, seed=seed
            )
            learn = language_model_learner(data, config=config)
            fit_lm_recipe(learn, 1, 1e-2, pretrained=False)
            if arm in ("a", "b"):
                same.add(arm, lm_scores(learn, lm_text_loader(data.vocab, held, 4, 8))["loss"])
            if arm != "b":
                features = encoder_features(learn, train), encoder_features(learn, test)
                per_review[arm].append(probe_correct(features[0], labels[:30], features[1], labels[30:45]))
    assert same.differences("a", "b") == [0.0, 0.0, 0.0]
    assert judge_seeds("claim", same.differences("a", "b")).agrees is None
    # the lab's trick decision: per test review, right/wrong averaged over the seeds, paired over reviews
    effects = review_effects(per_review["a"], per_review["train only"])
    assert judge_seeds("claim", effects).agrees is None


def test_the_offline_pretraining_corpus_shares_nothing_with_the_reviews() -> None:
    from engine.datasets.text import NEGATIVE, POSITIVE, generate_plain_corpus, generate_review_corpus

    plain = {w.lower() for doc in generate_plain_corpus(300, seed=0) for w in doc.split()}
    reviews = {w.lower() for doc in generate_review_corpus(300, seed=0)[0] for w in doc.split()}
    assert not plain & (
        set(POSITIVE) | set(NEGATIVE) | {"not", "but"}
    )  # no opinion words, negation, contrast
    assert len(plain & reviews) / len(reviews) < 0.2  # a few function words ("the", "in", ".") at most


def test_the_trick_needs_both_the_seeds_and_the_test_reviews_to_decide() -> None:
    from labs.labdir import load_lab_module

    lab = load_lab_module(get_lab("ulmfit-lm"))
    clear = judge_seeds("claim", [0.05, 0.06, 0.05])  # seeds agree
    noisy = judge_seeds("claim", [1.0, -1.0, 0.0, 1.0, 0.0, -1.0, 1.0, 0.0])  # reviews do not
    assert clear.agrees is True and noisy.agrees is None
    assert lab.both_noises(clear, noisy).agrees is None
    assert lab.both_noises(clear, judge_seeds("claim", [0.1] * 7 + [0.2])).agrees is True
    against = judge_seeds("claim", [-0.05, -0.06, -0.05])
    assert lab.both_noises(against, judge_seeds("claim", [-0.1] * 7 + [-0.2])).agrees is False
