"""The ULMFiT labs: how much real data each preset reads, and the explanations their comparisons give."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from labs import discriminative_lr, ulmfit_classifier
from labs._ulmfit import load_corpora
from labs.registry import get_lab

ULMFIT_LABS = ("ulmfit-lm", "ulmfit-classifier", "discriminative-lr")


def write_texts_csv(path: Path, n_rows: int) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["label", "text", "is_valid"])
        for i in range(n_rows):
            label = "positive" if i % 2 else "negative"
            writer.writerow([label, f"Review {i} : the film was {'good' if i % 2 else 'bad'} .", i % 5 == 0])
    return path


def test_real_docs_caps_the_reviews_read_from_data(tmp_path: Path) -> None:
    data = write_texts_csv(tmp_path / "texts.csv", 60)
    capped = load_corpora(data, general_docs=20, review_docs=500, seed=0, real_docs=25)
    assert len(capped.texts) == len(capped.labels) == len(capped.is_valid) == 25
    assert any(capped.is_valid) and not all(capped.is_valid)
    assert "25 reviews from" in capped.source
    uncapped = load_corpora(data, general_docs=20, review_docs=500, seed=0)  # review_docs caps it then
    assert len(uncapped.texts) == 60


def test_real_docs_leaves_generated_reviews_to_review_docs() -> None:
    corpora = load_corpora(None, general_docs=20, review_docs=40, seed=0, real_docs=25)
    assert len(corpora.texts) == 40 and len(corpora.unlabelled) == 20


@pytest.mark.parametrize("lab_id", ULMFIT_LABS)
def test_quick_samples_real_reviews_and_full_reads_them_all(lab_id: str) -> None:
    info = get_lab(lab_id)
    quick, full = info.resolve("quick", {}), info.resolve("full", {})
    assert 100 <= quick["real_docs"] <= 1000  # about 30 s on IMDB_SAMPLE on a quiet 2-core machine
    assert full["real_docs"] >= 50_000  # all of aclImdb's labelled reviews


def test_discriminative_lr_explains_a_nearly_frozen_encoder_at_chance() -> None:
    at_chance = {discriminative_lr.CHOICES[0]: 1.0, discriminative_lr.CHOICES[1]: 0.8,
                 discriminative_lr.CHOICES[2]: 0.52}  # fmt: skip
    assert "52%" in discriminative_lr.explain(at_chance)
    assert "coin toss" in discriminative_lr.explain(at_chance)
    useful = {**at_chance, discriminative_lr.CHOICES[2]: 0.85}
    assert "coin toss" not in discriminative_lr.explain(useful)
    assert "85%" in discriminative_lr.explain(useful)


def test_ulmfit_classifier_says_why_all_at_once_won() -> None:
    lost = ulmfit_classifier.explain(head_only=0.5, gradual=0.6, everything=0.9)
    assert "coin toss" in lost and "all at once wins here" in lost
    tie = ulmfit_classifier.explain(head_only=0.5, gradual=0.9, everything=0.9)
    assert "all at once wins here" not in tie
    assert "coin toss" not in ulmfit_classifier.explain(head_only=0.8, gradual=0.9, everything=0.9)
