"""lr-find's protocol: both rates of a seed get the same budget from the same weights, identical arms
give no verdict, and real files are reported as real."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from labs._experiment import SeedResults
from labs.events import EpochRow
from labs.registry import get_lab
from labs.runner import LabRun
from labs.verdict import judge_seeds
from tests.labs._lab_runs import write_texts_csv


def test_both_rates_get_the_same_budget_on_real_files(tmp_path: Path) -> None:
    data = write_texts_csv(tmp_path / "texts.csv", 40)
    run = LabRun(
        get_lab("lr-find"), preset="smoke", data=str(data), runs_dir=tmp_path, overrides={"seeds": 2}
    )
    run.start()
    events = list(run.iter_events())
    run.join(timeout=240)
    assert run.status == "finished", run.record.error
    assert run.record.data["source"] == "real"
    epochs = Counter(e.series for e in events if isinstance(e, EpochRow))
    for seed in map(int, run.result["suggestions"]):
        fits = [
            n for series, n in epochs.items() if series.endswith(f" · seed {seed}") and "grid" not in series
        ]
        assert len(fits) == 2 and len(set(fits)) == 1  # suggestion and lowest loss: the same epochs
    assert run.result["verdict"]["agrees"] is None  # smoke: no verdict


def test_identical_rates_are_inconclusive() -> None:
    """The decision on two fits at the same rate, from the same weights, over three seeds."""
    import torch

    from engine.datasets.text import generate_review_corpus
    from engine.text import AWDLSTMConfig, language_model_learner, lm_data
    from labs._review_lm import lm_scores, lm_text_loader

    texts, _ = generate_review_corpus(40, seed=1)
    results = SeedResults("loss", higher_is_better=False)
    for seed in range(3):
        for arm in ("suggestion", "lowest loss"):
            torch.manual_seed(seed)
            data = lm_data(texts, bs=4, bptt=8, is_valid=[i >= 30 for i in range(40)], seed=seed)
            learn = language_model_learner(data, config=AWDLSTMConfig(emb_sz=8, n_hid=16, n_layers=1))
            learn.fit_one_cycle(1, 1e-2)
            results.add(arm, lm_scores(learn, lm_text_loader(data.vocab, texts[30:], 4, 8))["loss"])
    assert judge_seeds("claim", results.differences("suggestion", "lowest loss")).agrees is None
