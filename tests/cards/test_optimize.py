"""`cardlab optimize`: enough history or a clear message; loss before/after; saving only what helps.

A real run of fsrs' optimizer takes about 16 s here (bench/study_optimize.py), over this file's budget,
so these tests hand `optimize` a stand-in fitter; the log loss is checked against fsrs' own scoring.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fsrs.scheduler import DEFAULT_PARAMETERS

from bench._scale_data import simulate_history
from cards.config import load_config
from cards.optimize import (
    MIN_REVIEWS,
    NotEnoughReviews,
    log_loss,
    optimize,
    review_histories,
    scored_reviews,
)
from cards.paths import Home
from cards.store import ReviewRow, Store

ROOT = Path(__file__).resolve().parents[2]
# A student who forgets faster than the defaults assume: smaller initial stabilities fit them better.
FORGETFUL = (0.05, 0.3, 0.6, 2.0, *DEFAULT_PARAMETERS[4:])


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
        optimize(store, home, fit=lambda histories: pytest.fail("must not fit"))
    assert (caught.value.needed, caught.value.have) == (MIN_REVIEWS, 6)
    message = str(caught.value)
    assert (
        f"at least {MIN_REVIEWS}" in message
        and "you have 6" in message
        and f"{MIN_REVIEWS - 6} more" in message
    )
    assert not home.config_path.exists()


def test_an_empty_store_needs_every_review(store, home):
    with pytest.raises(NotEnoughReviews, match="you have 0"):
        optimize(store, home)


def test_better_parameters_are_saved_and_the_loss_drop_reported(store, home):
    simulate_history(store, n_cards=110, reviews_per_card=8)
    histories = review_histories(store)
    assert scored_reviews(histories) >= MIN_REVIEWS

    result = optimize(store, home, fit=lambda given: FORGETFUL)

    assert result.log_loss_before == pytest.approx(log_loss(histories, DEFAULT_PARAMETERS))
    assert result.log_loss_after == pytest.approx(log_loss(histories, FORGETFUL))
    assert result.log_loss_after < result.log_loss_before
    assert result.saved and result.improvement > 0
    assert load_config(home).fsrs_parameters == FORGETFUL


def test_parameters_that_predict_worse_are_not_saved(store, home):
    simulate_history(store, n_cards=110, reviews_per_card=8)
    worse = (50.0, 60.0, 70.0, 80.0, *DEFAULT_PARAMETERS[4:])  # far too confident for this student
    result = optimize(store, home, fit=lambda given: worse)
    assert not result.saved
    assert result.log_loss_fitted > result.log_loss_before == result.log_loss_after
    assert result.parameters == DEFAULT_PARAMETERS
    assert load_config(home).fsrs_parameters is None


def test_log_loss_matches_fsrs_own_scoring(store):
    """Our torch-free loss is the one fsrs' optimizer minimises (checked in a subprocess: it imports torch)."""
    simulate_history(store, n_cards=20, reviews_per_card=6)
    ours = log_loss(review_histories(store), FORGETFUL)
    code = (
        "import sys\n"
        "from cards.store import Store\n"
        "from cards.optimize import review_histories\n"
        "import fsrs\n"
        "from fsrs.optimizer import Optimizer\n"
        "histories = review_histories(Store.open(sys.argv[1]))\n"
        "logs = [fsrs.ReviewLog(i, fsrs.Rating(r), t, None) for i, h in enumerate(histories, 1) for t, r in h]\n"
        f"print(Optimizer(logs)._compute_batch_loss(parameters={list(FORGETFUL)!r}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(store.path)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert ours == pytest.approx(float(out.stdout), rel=1e-9)
