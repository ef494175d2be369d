"""Calibration, RMSE(bins) groups, retention by month and the workload curve, on small known logs."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import fsrs
import pytest
from fsrs.scheduler import DEFAULT_PARAMETERS

from cards.config import Config
from cards.fsrs_stats import (
    calibration_from,
    collect_calibration,
    months_from,
    request,
    workload,
    workload_point_from,
    workload_retentions,
)
from cards.metrics import bin_range, calibration, calibration_bin, log_loss, rmse_bin_key, rmse_bins
from cards.stats import retention_by_month
from cards.store import LEARNING, NEW, REVIEW, ReviewRow, Store

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 1, 5, 10, tzinfo=UTC)
# (card, days after START, rating): c1 is recalled twice, c2 lapses on day 3, c3 is answered twice on day 0
LOG = [
    ("c1", 0, 3),
    ("c1", 2, 3),
    ("c1", 9, 3),
    ("c2", 0, 3),
    ("c2", 3, 1),
    ("c2", 4, 3),
    ("c3", 0, 1),
    ("c3", 0.01, 3),
    ("c3", 5, 4),
]


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "store.sqlite") as opened:
        yield opened


def add_log(store: Store, log=LOG, state_before: int = REVIEW) -> None:
    with store.transaction():
        for card, days, rating in log:
            at_ms = round((START + timedelta(days=days)).timestamp() * 1000)
            store.add_review(
                ReviewRow("p", card, "h", rating, state_before, REVIEW, at_ms, 1000, at_ms, 1.0, 5.0)
            )


def py_fsrs_predictions() -> list[tuple[float, bool]]:
    """The scheduler's own retrievability at each answer a day or more after the card's previous one."""
    scheduler = fsrs.Scheduler(enable_fuzzing=False)
    found = []
    for card_id in ("c1", "c2", "c3"):
        card = fsrs.Card(card_id=0, due=START)
        for _, days, rating in [entry for entry in LOG if entry[0] == card_id]:
            moment = START + timedelta(days=days)
            if card.last_review is not None and (moment - card.last_review).days >= 1:
                found.append((scheduler.get_card_retrievability(card, moment), rating > 1))
            card, _ = scheduler.review_card(card, fsrs.Rating(rating), review_datetime=moment)
    return found


def test_calibration_of_a_known_log(store):
    add_log(store)
    found = collect_calibration(store, Config())
    expected = py_fsrs_predictions()
    assert found is not None and found.reviews == len(expected) == 5 and not found.fitted
    predictions, recalled = zip(*expected)
    by_bin: dict[int, list[tuple[float, bool]]] = {}
    for p, hit in expected:
        by_bin.setdefault(calibration_bin(p), []).append((p, hit))
    assert [(b.count, b.low, b.high) for b in found.bins] == [
        (len(by_bin[index]), *bin_range(index)) for index in sorted(by_bin)
    ]
    for b, index in zip(found.bins, sorted(by_bin)):
        assert b.predicted == pytest.approx(sum(p for p, _ in by_bin[index]) / len(by_bin[index]), rel=1e-4)
        assert b.actual == sum(hit for _, hit in by_bin[index]) / len(by_bin[index])
        assert b.low <= b.predicted < b.high
    manual = -sum(math.log(p if hit else 1 - p) for p, hit in expected) / len(expected)
    assert found.log_loss == pytest.approx(manual, rel=1e-4)
    assert sum(b.count for b in found.bins) == 5 and 0 <= found.rmse_bins <= 1


def test_no_scored_answers_means_no_calibration(store):
    add_log(store, [("c1", 0, 3), ("c1", 0.2, 3)])  # the same day: nothing to predict yet
    assert collect_calibration(store, Config()) is None


def test_fitted_parameters_are_the_ones_scored(store):
    add_log(store)
    fitted = Config(fsrs_parameters=(0.05, 0.3, 0.6, 2.0, *DEFAULT_PARAMETERS[4:]))
    default, mine = collect_calibration(store, Config()), collect_calibration(store, fitted)
    assert mine is not None and default is not None and mine.fitted
    assert mine.log_loss != default.log_loss


def test_calibration_bins_follow_fsrs_rs_get_bin():
    assert [calibration_bin(p) for p in (0.0, 0.5, 0.9, 0.95, 1.0)] == [0, 3, 14, 17, 19]
    low, high = bin_range(14)
    assert low == pytest.approx(math.log(15) / math.log(21)) and high == pytest.approx(
        math.log(16) / math.log(21)
    )
    bins = calibration([0.91, 0.905, 0.2], [True, False, False])
    assert [(b.count, b.actual) for b in bins] == [(1, 0.0), (2, 0.5)]
    assert bins[1].predicted == pytest.approx(0.9075)


def test_rmse_bins_groups_by_interval_length_and_lapses():
    # as fsrs-rs' FSRSItem::r_matrix_index: (rating 3, day 0), (3, 1 day later) -> delta 1, 1 long-term answer
    assert rmse_bin_key(1, 1, 0) == (248, 4, 0)
    assert rmse_bin_key(2, 2, 1) == (248, 4, 2)  # (3, 0), (1, 5), (3, 2): one lapse before the answer
    assert rmse_bin_key(4, 1, 0) == (898, 4, 0)  # 4 days: the next interval group
    assert rmse_bin_key(30, 5, 3) == (3250, 7, 5)  # 2.48 * 3.62**2 * 100, 1.99 * 1.89**3, 1.65 * 1.73**2
    # two groups: one predicted perfectly on average, one off by 0.5; weighted by size (1 and 3)
    keys = [(1, 1, 0)] + [(2, 1, 0)] * 3
    value = rmse_bins([0.5, 1.0, 1.0, 1.0], [True, False, True, False], keys)
    assert value == pytest.approx(math.sqrt((0.25 * 1 + (1 - 1 / 3) ** 2 * 3) / 4))
    assert log_loss([0.5, 0.5], [True, False]) == pytest.approx(math.log(2))


def test_retention_by_month_counts_review_state_answers_per_month(store):
    march = [("m", 60 + day, 3 if day % 4 else 1) for day in range(8)]  # 2 Again of 8
    add_log(store, [("j", 0, 3), ("j", 10, 1), *march])
    add_log(store, [("new", 1, 3)], state_before=NEW)  # not a review-state answer
    add_log(store, [("learn", 2, 3)], state_before=LEARNING)
    months = [(m.month, m.answered, m.recalled) for m in retention_by_month(store, Config(timezone="UTC"))]
    assert months == [(date(2026, 1, 1), 2, 1), (date(2026, 3, 1), 8, 6)]


def test_workload_rises_with_desired_retention_and_marks_the_current_setting():
    assert workload_retentions(0.9) == [0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.97]
    assert 0.88 in workload_retentions(0.88)
    points = list(workload(Config(desired_retention=0.88), deck_size=400, packs=1))
    assert [p.desired_retention for p in points] == workload_retentions(0.88)
    low, high = points[0], points[-1]
    assert high.minutes_per_day > low.minutes_per_day and high.reviews_per_day > low.reviews_per_day
    assert high.remembered > low.remembered
    assert all(0 < p.remembered <= 400 for p in points)


def test_the_child_process_reports_what_the_functions_compute(store, tmp_path):
    """`python -m cards.fsrs_stats` (what the stats screen runs): months, calibration, workload, in order."""
    add_log(store)
    config = Config(timezone="UTC", desired_retention=0.85)
    child = subprocess.run(
        [sys.executable, "-m", "cards.fsrs_stats"],
        input=request(store.path, config, 50, 1) + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    answers = [json.loads(line) for line in child.stdout.splitlines()]
    assert [next(iter(a)) for a in answers] == ["months", "calibration"] + ["workload"] * 7
    assert months_from(answers[0]["months"]) == retention_by_month(store, config)
    assert calibration_from(answers[1]["calibration"]) == collect_calibration(store, config)
    points = [workload_point_from(a["workload"]) for a in answers[2:]]
    assert points == list(workload(config, 50, 1))

    broken = subprocess.run(
        [sys.executable, "-m", "cards.fsrs_stats"],
        input=request(tmp_path, config, 50, 1) + "\n",  # a folder, not a store
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    (line,) = broken.stdout.splitlines()
    assert "error" in json.loads(line) and "Traceback" not in broken.stdout
