"""Every lab's smoke preset, end to end on generated data, with its key result checked where cheap."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from labs.events import (
    BatchLoss,
    EpochRow,
    Failed,
    Finished,
    LrFinderPoint,
    LrSuggestion,
    StageStarted,
    TableOutput,
    TextOutput,
)
from labs.registry import all_labs, get_lab
from labs.runner import LabRun


def run_smoke(lab_id: str, tmp_path: Path, **overrides: object) -> tuple[LabRun, list]:
    run = LabRun(
        get_lab(lab_id), preset="smoke", overrides=overrides, device="cpu", runs_dir=tmp_path
    ).start()
    events = list(run.iter_events())
    assert run.join(timeout=60)
    failure = next((e for e in events if isinstance(e, Failed)), None)
    assert failure is None, failure.traceback
    assert isinstance(events[-1], Finished)
    return run, events


# Every lab's smoke preset runs once, in the lab's own test, which makes the common checks on it too: a
# lab run costs seconds (a child that imports torch), so none runs twice. lr-find's and
# ulmfit-classifier's are below; ulmfit-lm's is the first run of test_ulmfit_labs.py's model-store chain
# and discriminative-lr's (2 seeds) its fine-tuning test; the others are the grid-and-budget test of the
# lab's test_*_protocol.py (tabular and the two time-series labs on 2 seeds).
OWN_TESTS = {
    "lr-find",
    "tabular",
    "ulmfit-classifier",
    "cold-start",
    "collab",
    "ulmfit-lm",
    "tabular-time-series",
    "contiguous-split",
    "discriminative-lr",
}


def test_every_lab_has_a_test_that_runs_its_smoke_preset() -> None:
    labs = {info.id for info in all_labs()}
    assert OWN_TESTS <= labs, OWN_TESTS - labs  # a renamed lab would otherwise go unchecked
    assert labs <= OWN_TESTS, f"no test runs the smoke preset of {sorted(labs - OWN_TESTS)}: add one"


def run_checked_smoke(lab_id: str, tmp_path: Path) -> tuple[LabRun, list]:
    run, events = run_smoke(lab_id, tmp_path)
    check_smoke_run(run, events, tmp_path)
    return run, events


def check_smoke_run(run: LabRun, events: list, runs_dir: Path) -> None:
    """A lab's smoke run on generated data, checked as every lab's is: steps in order, finite losses, no
    verdict, the data it used said and the run saved in `runs_dir`."""
    info = run.info
    assert isinstance(events[-1], Finished)
    started = [e.name for e in events if isinstance(e, StageStarted)]
    assert started == [step for step in info.steps if step in started]  # in the order the screen lists them
    assert set(started) >= set(info.steps) - {"all at once"}
    losses = [e.loss for e in events if isinstance(e, BatchLoss)]
    assert losses and all(math.isfinite(loss) for loss in losses)
    assert any(isinstance(e, EpochRow) for e in events)
    verdict = run.result["verdict"]
    assert {"claim", "agrees", "effect", "threshold", "seeds", "min_detectable_effect"} <= set(verdict)
    assert verdict["agrees"] is None and verdict["note"].startswith("smoke runs check the code")  # no verdict
    data = run.record.data  # every lab says which data it trained on
    assert isinstance(data, dict) and data["source"] == "generated" and data["rows"] > 0
    if info.question:
        assert run.result["outcome"] in (*info.question.choices, None)  # None: inconclusive
    assert (runs_dir / run.run_id / "run.json").is_file()


def test_lr_find_streams_its_curve_and_marks_the_suggestions(tmp_path: Path) -> None:
    run, events = run_checked_smoke("lr-find", tmp_path)
    points = [e for e in events if isinstance(e, LrFinderPoint)]
    assert len(points) >= 10
    assert all(a.lr < b.lr for a, b in zip(points, points[1:]))  # an exponential sweep, in order
    marks = {e.name: e.lr for e in events if isinstance(e, LrSuggestion)}
    assert set(marks) == {"valley", "steep", "minimum / 10", "lowest loss"}  # minimum/10 is labelled so
    assert marks["minimum / 10"] == pytest.approx(marks["lowest loss"] / 10)
    for seed in run.result["suggestions"].values():  # the suggestion never lands past the lowest loss
        assert seed["valley"] <= seed["lowest_loss"]


def test_ulmfit_classifier_reports_groups_and_predicts_a_sentence(tmp_path: Path) -> None:
    run, events = run_checked_smoke("ulmfit-classifier", tmp_path)
    tables = {e.title: e for e in events if isinstance(e, TableOutput)}
    recipes = tables["what each recipe trains, at its chosen top rate"]
    rows = {(row[0], row[1].split(" ")[0]): row[2:] for row in recipes.rows}
    head_only = rows[("gradual + discr", "freeze()")]
    assert head_only[-1] != "frozen" and set(head_only[:-1]) == {"frozen"}
    rates = [float(cell) for cell in rows[("gradual + discr", "unfreeze()")]]
    assert rates[-1] / rates[-2] == pytest.approx(2.6, rel=0.05)  # the table shows two digits
    assert len({cell for cell in rows[("all at once", "unfreeze()")]}) == 1  # one rate for every group
    assert run.predictor is not None
    assert run.predictor("a great film").split(" ")[0] in {"positive", "negative"}
    texts = [e.text for e in events if isinstance(e, TextOutput)]
    assert any("cannot use the encoder" in text and "vocab" in text for text in texts)
    assert set(run.result["accuracy"]) == {"all at once", "all at once + discr", "gradual", "gradual + discr"}
