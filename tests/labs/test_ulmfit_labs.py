"""The ULMFiT labs: real-data sampling, the model-store chain (pretrain once, ulmfit-lm -> classifier),
and the explanations their verdicts give."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cards.paths import Home
from labs._ulmfit import load_reviews, vocab_coverage
from labs.labdir import load_lab_module
from labs.model_store import FINE_TUNED_ENC, ModelStore
from labs.registry import get_lab
from labs.runner import LabRun
from labs.verdict import judge_rivals
from tests.labs.test_lab_smoke import check_smoke_run

ULMFIT_LABS = ("ulmfit-lm", "ulmfit-classifier", "discriminative-lr")


def write_texts_csv(path: Path, n_rows: int) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["label", "text", "is_valid"])
        for i in range(n_rows):
            label = "positive" if i % 2 else "negative"
            writer.writerow([label, f"Review {i} : the film was {'good' if i % 2 else 'bad'} .", i % 5 == 0])
    return path


def test_real_reviews_are_sampled_into_labelled_held_out_and_lm_texts(tmp_path: Path) -> None:
    data = write_texts_csv(tmp_path / "texts.csv", 60)
    reviews = load_reviews(data, labels=10, valid_docs=5, lm_docs=20, seed=0)
    assert len(reviews.train_texts) == len(reviews.train_labels) == 10
    assert len(reviews.valid_texts) == 5
    assert not set(reviews.valid_texts) & set(reviews.lm_texts)  # the LM never sees the held-out reviews
    assert set(reviews.train_texts) <= set(reviews.lm_texts)


def test_generated_reviews_differ_by_seed_and_keep_their_sizes() -> None:
    first, second = (load_reviews(None, labels=8, valid_docs=6, lm_docs=4, seed=s) for s in (0, 1))
    assert (len(first.train_texts), len(first.valid_texts), len(first.lm_texts)) == (8, 6, 4)
    assert first.train_texts != second.train_texts


@pytest.mark.parametrize("lab_id", ULMFIT_LABS)
def test_quick_uses_few_labels_or_samples_real_reviews_and_full_reads_them_all(lab_id: str) -> None:
    info = get_lab(lab_id)
    quick, full = info.resolve("quick", {}), info.resolve("full", {})
    if "labels" in quick:
        assert quick["labels"] <= 200 <= quick["holdout_docs"]  # few labels, all of IMDB_SAMPLE's held out
        assert full["labels"] >= 25_000 and full["holdout_docs"] >= 25_000
    else:  # ulmfit-lm: a sample of IMDB_SAMPLE's 800 training reviews; full, IMDb's 25,000
        assert 20 <= quick["lm_docs"] + quick["tune_docs"] <= 800
        assert full["lm_docs"] >= 25_000
    assert full["pretrained"] == "wt103-fwd" and (full["emb_sz"], full["n_hid"], full["n_layers"]) == (
        400,
        1152,
        3,
    )


def test_vocab_coverage_counts_words_not_special_tokens() -> None:
    from engine.text.vocab import Vocab

    vocab = Vocab(["xxunk", "xxpad", "xxbos", "xxmaj", "the", "film"])
    assert vocab_coverage(vocab, ["The film"]) == 1.0
    assert vocab_coverage(vocab, ["the film was good"]) == 0.5


def run_lab(lab_id: str, home: Home, seed: int = 0, **overrides: object) -> LabRun:
    return run_lab_with_events(lab_id, home, seed, **overrides)[0]


def run_lab_with_events(lab_id: str, home: Home, seed: int = 0, **overrides: object) -> tuple[LabRun, list]:
    run = LabRun(
        get_lab(lab_id),
        preset="smoke",
        seed=seed,
        home=home,
        runs_dir=home.runs_dir,
        overrides=overrides,
        device="cpu",
    )
    run.start()
    events = list(run.iter_events())
    run.join(timeout=240)
    assert run.status == "finished", run.record.error
    return run, events


def texts_of(run: LabRun) -> str:
    return "\n".join(e["text"] for e in run.record.events if e.get("type") == "TextOutput")


@pytest.mark.slow
def test_labs_chain_through_the_model_store(tmp_path: Path) -> None:
    home = Home.at(tmp_path).ensure()
    store = ModelStore.for_home(home)
    lm, events = run_lab_with_events("ulmfit-lm", home)
    check_smoke_run(lm, events, home.runs_dir)  # test_lab_smoke.py's checks: this is ulmfit-lm's smoke run
    assert "Pretraining the general language model once" in texts_of(lm)
    names = {entry.name for entry in store.list()}
    assert {"general-lm-generated-60-16x32x1", "fine_tuned_enc-16x32x1"} <= names  # smoke: generated text
    encoder = store.get("fine_tuned_enc-16x32x1")
    assert encoder.kind == "encoder" and encoder.parent and encoder.vocab_size > 0
    assert lm.result["verdict"]["claim"]

    again = run_lab("ulmfit-lm", home, seed=1)
    assert "Pretraining the general language model once" not in texts_of(again)  # made once, reused

    clas = run_lab("ulmfit-classifier", home)
    said = texts_of(clas)
    assert "load_encoder('fine_tuned_enc-16x32x1')" in said and "made by an earlier lab" in said
    verdict = clas.result["verdict"]
    assert verdict["claim"] and verdict["seeds"] == 1 and verdict["agrees"] is None  # smoke: no verdict
    assert FINE_TUNED_ENC.startswith("fine_tuned_enc")


@pytest.mark.slow
def test_a_classifier_lab_without_a_stored_encoder_fine_tunes_and_keeps_one(tmp_path: Path) -> None:
    home = Home.at(tmp_path).ensure()
    run, events = run_lab_with_events("discriminative-lr", home, seeds=2)
    check_smoke_run(run, events, home.runs_dir)  # test_lab_smoke.py's checks: discriminative-lr's smoke run
    assert "fine-tuning one here" in texts_of(run)
    assert ModelStore.for_home(home).get("fine_tuned_enc-16x32x1").seconds > 0
    assert all(len(values) == 2 for values in run.result["per_seed"].values())
    tables = [e for e in run.record.events if e.get("type") == "TableOutput"]
    assert any(row[0] == "sd" for table in tables for row in table["rows"])


def test_the_classifier_says_what_it_could_detect_beside_the_papers_effect() -> None:
    lab = load_lab_module(get_lab("ulmfit-classifier"))
    rows = [
        {
            "comparison": "gradual − all at once",
            "kind": "gradual",
            "effect": 0.01,
            "mde": 0.04,
            "paper": 0.005,
        },
        {"comparison": "g + d − a + d", "kind": "gradual", "effect": -0.01, "mde": 0.001, "paper": 0.0018},
    ]
    verdict = judge_rivals(
        lab.CLAIM, {"one rate": [0.01, 0.02, 0.0], "discriminative rates": [0.0, 0.01, -0.01]}
    )
    said = lab.explain(verdict, rows, n_seeds=3, labels=100)
    assert "0.50 points, is below the 4.0 points this run could detect" in said
    assert "within what this run could detect" in said
    assert "neither recipe wins" in said
    assert "faster than it forgets" not in said  # nothing the run did not measure


def test_ulmfit_lm_pretrains_on_a_wikitext_folder_first(tmp_path: Path) -> None:
    """`--data wikitext-103`: the lesson's first step, a model pretrained on WikiText, stored and reused."""
    from engine.datasets.text import generate_general_corpus

    folder = tmp_path / "wikitext-tiny"
    folder.mkdir()
    stories = generate_general_corpus(70, seed=0)
    for name, part in (("wiki.train.tokens", stories[:60]), ("wiki.valid.tokens", stories[60:])):
        text = "".join(f" = Article {i} = \n\n {story} \n\n" for i, story in enumerate(part))
        (folder / name).write_text(text, encoding="utf-8")
    home = Home.at(tmp_path / "home").ensure()
    run = LabRun(get_lab("ulmfit-lm"), preset="smoke", home=home, data=str(folder)).start()
    run.join(timeout=240)
    assert run.status == "finished", run.record.error
    entry = ModelStore.for_home(home).get("general-lm-wikitext-tiny-500k-16x32x1")
    assert entry.corpus.startswith("wikitext-tiny (train+valid): 60 articles,")
    assert entry.corpus.endswith("(10 held out)")
    assert "starting from 'general-lm-wikitext-tiny-500k-16x32x1'" in texts_of(run)
    assert ModelStore.for_home(home).get("fine_tuned_enc-16x32x1").parent.endswith("16x32x1.pth")
