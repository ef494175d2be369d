"""`cardlab optimize`: fit the FSRS parameters to the user's own review history with fsrs-rs.

What the fit gains is measured on a time-series split, the way FSRS' benchmark measures it: the scored
answers, oldest first, are cut into 6 equal segments; fold k fits on segments 0..k and predicts segment
k+1 (fsrs-rs `TimeSeriesSplit`, 5 folds), so every prediction is for answers newer than all those its
parameters were fitted on. The parameters in use predict the same answers. When the fitted ones predict
them better (lower log loss), a fit on every answer is saved to config.toml; otherwise nothing changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cards.config import load_config, save_config
from cards.fsrs_rs import FsrsUnavailable, History, Reviews, Scored, predict, scored_answers, to_reviews
from cards.fsrs_rs import fit as fsrs_rs_fit
from cards.metrics import log_loss, rmse_bin_key, rmse_bins
from cards.paths import Home
from cards.store import SCHEDULED, Store

__all__ = ["FsrsUnavailable", "NotEnoughReviews", "OptimizeResult", "optimize", "review_histories"]

SPLITS = 5  # folds of the time-series split, as fsrs-rs' evaluate_with_time_series_splits
MIN_REVIEWS = 400  # scored answers: the first fold then fits on 66 (fsrs-rs trains beyond its
# initial stabilities from 64) and the split predicts 333 held-out answers

Fit = Callable[[Sequence[Reviews], Sequence[Scored]], list[float]]


class NotEnoughReviews(Exception):
    def __init__(self, needed: int, have: int) -> None:
        self.needed = needed
        self.have = have
        super().__init__(
            f"optimizing needs at least {needed} reviews of cards answered on an earlier day; you have {have}, "
            f"so about {needed - have} more {'is' if needed - have == 1 else 'are'} needed. Keep studying (new cards count once they come back "
            "on a later day) and run `cardlab optimize` again."
        )


@dataclass(frozen=True)
class Scores:
    log_loss: float
    rmse_bins: float


@dataclass(frozen=True)
class OptimizeResult:
    parameters: tuple[float, ...]  # what the scheduler uses from now on
    fitted: tuple[float, ...]  # fsrs-rs' fit on every scored answer (saved only if the split says so)
    default: Scores  # fsrs' default parameters on the held-out answers
    current: Scores  # the parameters in use before (the defaults when none were set)
    split_fitted: Scores  # each fold's fit on the answers after it
    reviews: int  # scored answers (a day or more after the card's previous answer)
    held_out: int  # of them, predicted by the folds
    fit_seconds: float  # fsrs-rs' compute_parameters on every answer
    seconds: float  # the whole optimize: reading, the split's fits and scoring, the final fit
    saved: bool
    config_path: Path

    @property
    def improvement(self) -> float:
        """Relative drop of the held-out log loss against the parameters in use: 0.05 means 5% lower."""
        before = self.current.log_loss
        return (before - self.split_fitted.log_loss) / before if before else 0.0


def review_histories(store: Store) -> list[History]:
    """Every card's answers (time in ms, rating), oldest first, in a stable order (by pack and card id).

    The one place that chooses which answers the optimizer and the calibration learn from.
    """
    histories: dict[tuple[str, str], History] = {}
    for pack_id, card_id, rating, reviewed_at_ms in store.query(
        "SELECT pack_id, card_id, rating, reviewed_at_ms FROM review_log WHERE kind = ? "
        "ORDER BY pack_id, card_id, reviewed_at_ms, id",
        (SCHEDULED,),  # cram answers did not move the schedule, so they are not part of its history
    ):
        histories.setdefault((pack_id, card_id), []).append((reviewed_at_ms, rating))
    return list(histories.values())


def time_series_folds(count: int, splits: int = SPLITS) -> list[tuple[int, int, int]]:
    """(train_end, test_start, test_end) per fold over `count` answers sorted oldest first.

    As fsrs-rs' `TimeSeriesSplit::split`: segments of count // (splits + 1); fold k trains on the first
    k + 1 segments and tests on the next one, the last fold up to the end.
    """
    segment = count // (splits + 1)
    if segment == 0:
        return []
    folds = []
    for k in range(splits):
        start = (k + 1) * segment
        end = count if k == splits - 1 else (k + 2) * segment
        folds.append((start, start, end))
    return folds


def score(cards: Sequence[Reviews], answers: Sequence[Scored], predictions: Sequence[float]) -> Scores:
    recalled = [answer.rating > 1 for answer in answers]
    keys = [rmse_bin_key(answer.delta_t, answer.long_term, answer.lapses) for answer in answers]
    return Scores(log_loss(predictions, recalled), rmse_bins(predictions, recalled, keys))


def _split_predictions(cards: Sequence[Reviews], scored: Sequence[Scored], fit: Fit) -> list[float]:
    """Each held-out answer predicted by the parameters fitted on the answers before its segment."""
    predictions: list[float] = []
    for train_end, test_start, test_end in time_series_folds(len(scored)):
        parameters = fit(cards, scored[:train_end])
        predictions += predict(cards, scored[test_start:test_end], parameters)
    return predictions


def default_fit(relearning_steps: int) -> Fit:
    from fsrs.scheduler import LOWER_BOUNDS_PARAMETERS, UPPER_BOUNDS_PARAMETERS

    def fit(cards: Sequence[Reviews], scored: Sequence[Scored]) -> list[float]:
        fitted = fsrs_rs_fit(cards, scored, relearning_steps)
        # py-fsrs schedules with them and checks its own bounds; 6 decimals keep config.toml readable
        bounds = zip(fitted, LOWER_BOUNDS_PARAMETERS, UPPER_BOUNDS_PARAMETERS)
        return [round(min(max(value, low), high), 6) for value, low, high in bounds]

    return fit


def optimize(store: Store, home: Home, fit: Fit | None = None) -> OptimizeResult:
    """Measure fsrs-rs' fit on a time-series split; save a fit on every answer when it predicts better."""
    from fsrs.scheduler import DEFAULT_PARAMETERS

    started = time.perf_counter()
    histories = review_histories(store)
    cards = [to_reviews(history) for history in histories]
    scored = scored_answers(cards, histories)
    if len(scored) < MIN_REVIEWS:
        raise NotEnoughReviews(MIN_REVIEWS, len(scored))
    config = load_config(home)
    fit = fit or default_fit(max(1, len(config.relearning_steps_min)))
    current = tuple(config.fsrs_parameters or DEFAULT_PARAMETERS)

    held_out = scored[time_series_folds(len(scored))[0][1] :]
    split_fitted = score(cards, held_out, _split_predictions(cards, scored, fit))
    default_scores = score(cards, held_out, predict(cards, held_out, DEFAULT_PARAMETERS))
    current_scores = (
        default_scores
        if current == tuple(DEFAULT_PARAMETERS)
        else score(cards, held_out, predict(cards, held_out, current))
    )
    fit_started = time.perf_counter()
    fitted = tuple(fit(cards, scored))
    fit_seconds = time.perf_counter() - fit_started
    better = split_fitted.log_loss < current_scores.log_loss
    if better:
        save_config(home, replace(config, fsrs_parameters=fitted))
    return OptimizeResult(
        parameters=fitted if better else current,
        fitted=fitted,
        default=default_scores,
        current=current_scores,
        split_fitted=split_fitted,
        reviews=len(scored),
        held_out=len(held_out),
        fit_seconds=fit_seconds,
        seconds=time.perf_counter() - started,
        saved=better,
        config_path=home.config_path,
    )


def result_to_json(result: OptimizeResult) -> dict[str, Any]:
    return {
        "reviews": result.reviews,
        "held_out": result.held_out,
        "seconds": round(result.seconds, 4),
        "fit_seconds": round(result.fit_seconds, 4),
        "log_loss_default": round(result.default.log_loss, 6),
        "log_loss_current": round(result.current.log_loss, 6),
        "log_loss_fitted": round(result.split_fitted.log_loss, 6),
        "rmse_bins_default": round(result.default.rmse_bins, 6),
        "rmse_bins_current": round(result.current.rmse_bins, 6),
        "rmse_bins_fitted": round(result.split_fitted.rmse_bins, 6),
        "saved": result.saved,
        "config": str(result.config_path),
        "params": [round(value, 6) for value in result.fitted],
        "params_in_use": [round(value, 6) for value in result.parameters],
    }
