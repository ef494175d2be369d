"""`cardlab optimize`: fit the FSRS parameters to the user's own review history.

fsrs' Optimizer needs torch and pandas; they are imported inside `optimize()` only, so studying never
loads them. The log loss before and after is computed here in plain Python, the same way fsrs scores it:
the predicted recall probability at each review made at least a day after the previous one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import fsrs
from fsrs.scheduler import DEFAULT_PARAMETERS

from cards.config import load_config, save_config
from cards.paths import Home
from cards.schedule import from_ms
from cards.store import SCHEDULED, Store

MIN_REVIEWS = (
    512  # fsrs' optimizer takes one gradient step per 512 scored reviews; fewer and it returns its defaults
)
MAX_SEQUENCE = 64  # fsrs' optimizer reads only each card's first 64 reviews

History = list[tuple[datetime, int]]  # (review time UTC, rating), oldest first


class NotEnoughReviews(Exception):
    def __init__(self, needed: int, have: int) -> None:
        self.needed = needed
        self.have = have
        super().__init__(
            f"optimizing needs at least {needed} reviews of cards answered on an earlier day; you have {have}, "
            f"so about {needed - have} more are needed. Keep studying (new cards count once they come back "
            "on a later day) and run `cardlab optimize` again."
        )


class OptimizerUnavailable(Exception):
    """fsrs' optimizer (torch, pandas, tqdm) is not installed."""


@dataclass(frozen=True)
class OptimizeResult:
    parameters: tuple[float, ...]  # what the scheduler uses from now on
    fitted: tuple[float, ...]  # what the optimizer found (kept only if it lowers the log loss)
    log_loss_before: float  # with the parameters in use before
    log_loss_fitted: float  # with the fitted parameters
    reviews_used: int
    saved: bool
    config_path: Path

    @property
    def improvement(self) -> float:
        """Relative drop of the log loss: 0.05 means 5% lower."""
        return (
            (self.log_loss_before - self.log_loss_after) / self.log_loss_before
            if self.log_loss_before
            else 0.0
        )

    @property
    def log_loss_after(self) -> float:
        """With the parameters in use from now on."""
        return self.log_loss_fitted if self.saved else self.log_loss_before


def review_histories(store: Store) -> list[History]:
    """Every card's answers, oldest first, in a stable order (by pack and card id)."""
    histories: dict[tuple[str, str], History] = {}
    for pack_id, card_id, rating, reviewed_at_ms in store.query(
        "SELECT pack_id, card_id, rating, reviewed_at_ms FROM review_log WHERE kind = ? "
        "ORDER BY pack_id, card_id, reviewed_at_ms, id",
        (SCHEDULED,),  # cram answers did not move the schedule, so they are not part of its history
    ):
        histories.setdefault((pack_id, card_id), []).append((from_ms(reviewed_at_ms), rating))
    return list(histories.values())


def scored_reviews(histories: list[History]) -> int:
    """How many answers the optimizer learns from: those at least a day after the card's previous one."""
    count = 0
    for history in histories:
        times = [moment for moment, _ in history[:MAX_SEQUENCE]]
        count += sum(1 for earlier, later in zip(times, times[1:]) if (later - earlier).days > 0)
    return count


def log_loss(histories: list[History], parameters: tuple[float, ...] | list[float]) -> float:
    """Mean binary cross-entropy of fsrs' recall prediction at each scored review."""
    scheduler = fsrs.Scheduler(parameters=parameters, enable_fuzzing=False)
    total, scored = 0.0, 0
    for history in histories:
        card = fsrs.Card(card_id=0, due=history[0][0])
        for moment, rating in history[:MAX_SEQUENCE]:
            if card.last_review is not None and (moment - card.last_review).days > 0:
                predicted = min(max(scheduler.get_card_retrievability(card, moment), 1e-9), 1 - 1e-9)
                recalled = rating > 1
                total -= math.log(predicted if recalled else 1 - predicted)
                scored += 1
            card, _ = scheduler.review_card(card, fsrs.Rating(rating), review_datetime=moment)
    return total / scored if scored else 0.0


def _fit(histories: list[History]) -> tuple[float, ...]:
    try:
        from fsrs.optimizer import Optimizer  # imports torch and pandas: only here
    except ImportError as err:
        raise OptimizerUnavailable(
            f'fsrs\' optimizer cannot load ({err}); install "fsrs[optimizer]"'
        ) from err
    logs = [
        fsrs.ReviewLog(
            card_id=index, rating=fsrs.Rating(rating), review_datetime=moment, review_duration=None
        )
        for index, history in enumerate(histories, start=1)
        for moment, rating in history
    ]
    try:
        fitted = Optimizer(logs).compute_optimal_parameters()
    except ImportError as err:  # fsrs' stand-in class when torch, pandas or tqdm is missing
        raise OptimizerUnavailable(str(err)) from err
    return tuple(float(value) for value in fitted)


def optimize(
    store: Store, home: Home, fit: Callable[[list[History]], tuple[float, ...]] = _fit
) -> OptimizeResult:
    """Fit parameters to the store's history; save them to the config when they predict it better."""
    histories = review_histories(store)
    have = scored_reviews(histories)
    if have < MIN_REVIEWS:
        raise NotEnoughReviews(MIN_REVIEWS, have)
    config = load_config(home)
    current = config.fsrs_parameters or DEFAULT_PARAMETERS
    fitted = fit(histories)
    before, after = log_loss(histories, current), log_loss(histories, fitted)
    better = after < before
    if better:
        save_config(home, replace(config, fsrs_parameters=fitted))
    return OptimizeResult(
        parameters=fitted if better else tuple(current),
        fitted=fitted,
        log_loss_before=before,
        log_loss_fitted=after,
        reviews_used=have,
        saved=better,
        config_path=home.config_path,
    )
