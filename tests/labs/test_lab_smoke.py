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


@pytest.mark.parametrize("info", all_labs(), ids=lambda info: info.id)
def test_every_lab_runs_its_smoke_preset(info, tmp_path: Path) -> None:
    run, events = run_smoke(info.id, tmp_path)
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
    assert (tmp_path / run.run_id / "run.json").is_file()


def test_lr_find_streams_its_curve_and_marks_the_suggestions(tmp_path: Path) -> None:
    run, events = run_smoke("lr-find", tmp_path)
    points = [e for e in events if isinstance(e, LrFinderPoint)]
    assert len(points) >= 10
    assert all(a.lr < b.lr for a, b in zip(points, points[1:]))  # an exponential sweep, in order
    assert {e.name for e in events if isinstance(e, LrSuggestion)} == {"valley", "steep", "minimum"}
    assert run.result["valley"] < run.result["lowest_loss_lr"]


def test_tabular_shows_the_na_column_and_predicts_a_row(tmp_path: Path) -> None:
    run, events = run_smoke("tabular", tmp_path)
    processed = next(e for e in events if isinstance(e, TableOutput) and "after the procs" in e.title)
    by_column = {row[0]: row for row in processed.rows}
    assert "age_na" in by_column and by_column["age_na"][4] == "True"
    assert run.result["outcome"] == "the training median, plus an is-missing (_na) column"
    assert run.predictor is not None
    assert run.predictor("age=30, workclass=Private").split(" ")[0] in {"<50k", ">=50k"}


def test_ulmfit_classifier_reports_groups_and_predicts_a_sentence(tmp_path: Path) -> None:
    run, events = run_smoke("ulmfit-classifier", tmp_path)
    tables = {e.title.split(":")[0]: e for e in events if isinstance(e, TableOutput)}
    head_only = [row[1] for row in tables["head only (freeze)"].rows]
    assert head_only[-1] == "trains" and set(head_only[:-1]) == {"frozen"}
    assert {row[1] for row in tables["unfreeze()"].rows} == {"trains"}
    rates = [float(row[2]) for row in tables["unfreeze()"].rows]
    assert rates[-1] / rates[-2] == pytest.approx(2.6, rel=1e-3)
    assert run.predictor is not None
    assert run.predictor("a great film").split(" ")[0] in {"positive", "negative"}
    texts = [e.text for e in events if isinstance(e, TextOutput)]
    assert any("cannot use the encoder" in text and "vocab" in text for text in texts)
    assert 0.0 <= run.result["head_only_accuracy"] <= 1.0
    assert any(f"reached {run.result['head_only_accuracy']:.0%}" in text for text in texts)


def test_cold_start_compares_with_the_global_mean(tmp_path: Path) -> None:
    run, _ = run_smoke("cold-start", tmp_path)
    assert run.result["global_mean_mse"] > 0 and run.result["metadata_mse"] > 0
    assert "would give movie" in run.predictor("25 F student")
