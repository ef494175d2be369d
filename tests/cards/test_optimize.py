"""`cardlab optimize`: enough history or a clear message; the time-series split; saving only what helps.

fsrs-rs fits a few hundred answers in milliseconds, so these tests run the real fit; a stand-in fitter is
used only to force a fit that predicts worse.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import fsrs_rs_python
import pytest
from fsrs.scheduler import DEFAULT_PARAMETERS

from bench._scale_data import simulate_history
from cards.config import load_config
from cards.fsrs_rs import predict, scored_answers, to_reviews
from cards.metrics import log_loss, rmse_bin_key, rmse_bins
from cards.optimize import (
    MIN_REVIEWS,
    NotEnoughReviews,
    optimize,
    review_histories,
    time_series_folds,
)
from cards.paths import Home
from cards.store import ReviewRow, Store
from tui.cli import main

# A student who forgets faster than the defaults assume: smaller initial stabilities, a steeper curve.
FORGETFUL = (0.05, 0.3, 0.6, 2.0, *DEFAULT_PARAMETERS[4:20], 0.4)


@pytest.fixture
def home(tmp_path) -> Home:
    return Home.at(tmp_path).ensure()


@pytest.fixture
def store(home):
    with Store.open(home.store_path) as opened:
        yield opened


def add_answers(store: Store, card_id: str, moments: list[datetime], rating: int = 3) -> None:
    with store.transaction():
        for moment in moments:
            at_ms = round(moment.timestamp() * 1000)
            store.add_review(ReviewRow("demo", card_id, "h", rating, 1, 2, at_ms, 1000, at_ms, 1.0, 5.0))


def items_of(store: Store):
    """The answers as cardlab hands them to fsrs-rs, oldest first."""
    histories = review_histories(store)
    cards = [to_reviews(history) for history in histories]
    return cards, scored_answers(cards, histories)


def fsrs_items(cards, scored):
    return [
        fsrs_rs_python.FSRSItem([fsrs_rs_python.FSRSReview(r, d) for r, d in cards[s.card][: s.position + 1]])
        for s in scored
    ]


def test_too_few_reviews_says_how_many_more_are_needed(store, home):
    start = datetime(2026, 1, 1, 9, tzinfo=UTC)
    for card in ("a", "b", "c"):
        # the same-day second answer is not scored; the answers two and five days later are
        add_answers(
            store,
            card,
            [start, start + timedelta(minutes=10), start + timedelta(days=2), start + timedelta(days=5)],
        )
    with pytest.raises(NotEnoughReviews) as caught:
        optimize(store, home, fit=lambda cards, scored: pytest.fail("must not fit"))
    assert (caught.value.needed, caught.value.have) == (MIN_REVIEWS, 6)
    message = str(caught.value)
    assert f"at least {MIN_REVIEWS}" in message and "you have 6" in message
    assert f"{MIN_REVIEWS - 6} more" in message
    assert not home.config_path.exists()


def test_one_review_short_is_said_in_the_singular():
    assert "so about 1 more is needed." in str(NotEnoughReviews(MIN_REVIEWS, MIN_REVIEWS - 1))
    assert "so about 2 more are needed." in str(NotEnoughReviews(MIN_REVIEWS, MIN_REVIEWS - 2))


def test_an_empty_store_needs_every_review(store, home):
    with pytest.raises(NotEnoughReviews, match="you have 0"):
        optimize(store, home)


def test_folds_cut_the_answers_by_time_as_fsrs_rs_does():
    # 6 segments of 10: fold k fits on the first k+1 segments and predicts the next; the last takes the rest
    assert time_series_folds(63) == [(10, 10, 20), (20, 20, 30), (30, 30, 40), (40, 40, 50), (50, 50, 63)]
    assert time_series_folds(5) == []


def test_a_student_unlike_the_defaults_gets_a_fit_that_predicts_newer_reviews_better(
    store, home, tmp_path, capsys
):
    simulate_history(store, n_cards=150, reviews_per_card=8, student=FORGETFUL)

    assert main(["--home", str(tmp_path), "optimize", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)

    cards, scored = items_of(store)
    assert report["reviews"] == len(scored) >= MIN_REVIEWS
    assert report["held_out"] == len(scored) - len(scored) // 6
    assert report["log_loss_fitted"] < report["log_loss_default"]
    assert report["rmse_bins_fitted"] < report["rmse_bins_default"]
    assert 0 < report["fit_seconds"] <= report["seconds"]
    assert report["saved"] is True and len(report["params"]) == 21
    saved = load_config(home).fsrs_parameters
    assert saved is not None and list(saved) == pytest.approx(report["params"], abs=1e-6)
    assert saved[0] < DEFAULT_PARAMETERS[0] and saved[20] > DEFAULT_PARAMETERS[20]  # towards the student

    # the held-out figures are fsrs-rs' own time-series evaluation of the same answers
    own = fsrs_rs_python.evaluate_with_time_series_splits(fsrs_items(cards, scored))
    assert report["log_loss_fitted"] == pytest.approx(own.log_loss, rel=1e-4)
    assert report["rmse_bins_fitted"] == pytest.approx(own.rmse_bins, rel=1e-3)

    # run again: the saved parameters are now the ones in use, and the report says which is which
    assert main(["--home", str(tmp_path), "optimize"]) == 0
    out = capsys.readouterr().out
    assert "in use" in out and "defaults" in out and "RMSE(bins)" in out


def test_parameters_that_predict_worse_are_not_saved(store, home, capsys):
    simulate_history(store, n_cards=110, reviews_per_card=8)
    worse = [50.0, 60.0, 70.0, 80.0, *DEFAULT_PARAMETERS[4:]]  # far too confident for this student
    result = optimize(store, home, fit=lambda cards, scored: worse)
    assert not result.saved
    assert result.split_fitted.log_loss > result.current.log_loss == result.default.log_loss
    assert result.parameters == DEFAULT_PARAMETERS and result.fitted == tuple(worse)
    assert load_config(home).fsrs_parameters is None


def test_cli_says_when_the_fit_is_not_kept(home, tmp_path, capsys, monkeypatch):
    with Store.open(home.store_path) as store:
        simulate_history(store, n_cards=110, reviews_per_card=8)
    monkeypatch.setattr(
        "cards.optimize.default_fit",
        lambda steps: lambda cards, scored: [50.0] * 4 + list(DEFAULT_PARAMETERS[4:]),
    )
    assert main(["--home", str(tmp_path), "optimize"]) == 0
    out = capsys.readouterr().out
    assert "kept the current ones" in out and "saved" not in out
    assert not home.config_path.exists()


def test_metrics_are_fsrs_rs_own(store):
    """Log loss and RMSE(bins) over the same answers equal fsrs-rs' `evaluate` (recency-weighted there)."""
    simulate_history(store, n_cards=60, reviews_per_card=7, student=FORGETFUL)
    cards, scored = items_of(store)
    predictions = predict(cards, scored, FORGETFUL)
    recalled = [answer.rating > 1 for answer in scored]
    keys = [rmse_bin_key(a.delta_t, a.long_term, a.lapses) for a in scored]
    last = max(len(scored) - 1, 1)
    weights = [0.25 + 0.75 * (index / last) ** 3 for index in range(len(scored))]  # fsrs-rs' recency weights

    own = fsrs_rs_python.FSRS(list(FORGETFUL)).evaluate(fsrs_items(cards, scored))
    assert log_loss(predictions, recalled, weights) == pytest.approx(own.log_loss, rel=1e-4)
    assert rmse_bins(predictions, recalled, keys, weights) == pytest.approx(own.rmse_bins, rel=1e-3)
