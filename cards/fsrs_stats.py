"""Statistics that need the FSRS model, to help choose `desired_retention`: calibration and workload.

- Calibration: at every answer given a day or more after the card's previous one, the recall the
  parameters in use predicted, against whether the card was recalled; grouped by prediction.
- Workload: fsrs-rs' simulator studies the packs' cards for a year under the study limits at each
  desired retention; time per day, answers per day and cards remembered at the end.

Both take a moment on a large history (the stats screen computes them in a worker).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from cards.config import Config
from cards.fsrs_rs import WorkloadPoint, predict, scored_answers, simulate_workload, to_reviews
from cards.metrics import CalibrationBin, calibration, log_loss, rmse_bin_key, rmse_bins
from cards.optimize import review_histories
from cards.store import Store

WORKLOAD_RETENTIONS = (0.70, 0.75, 0.80, 0.85, 0.90, 0.95, 0.97)
WORKLOAD_DAYS = 365


@dataclass(frozen=True)
class Calibration:
    bins: list[CalibrationBin]
    reviews: int  # scored answers
    log_loss: float
    rmse_bins: float
    fitted: bool  # the parameters in use come from `cardlab optimize` (else fsrs' defaults)


def parameters_in_use(config: Config) -> list[float]:
    from fsrs.scheduler import DEFAULT_PARAMETERS

    return list(config.fsrs_parameters or DEFAULT_PARAMETERS)


def collect_calibration(store: Store, config: Config) -> Calibration | None:
    """Predicted against actual recall with the parameters in use; None before any answer is scored."""
    histories = review_histories(store)
    cards = [to_reviews(history) for history in histories]
    scored = scored_answers(cards, histories)
    if not scored:
        return None
    predictions = predict(cards, scored, parameters_in_use(config))
    recalled = [answer.rating > 1 for answer in scored]
    keys = [rmse_bin_key(cards[answer.card][: answer.position + 1]) for answer in scored]
    return Calibration(
        bins=calibration(predictions, recalled),
        reviews=len(scored),
        log_loss=log_loss(predictions, recalled),
        rmse_bins=rmse_bins(predictions, recalled, keys),
        fitted=config.fsrs_parameters is not None,
    )


def workload_retentions(current: float) -> list[float]:
    return sorted({*WORKLOAD_RETENTIONS, round(current, 2)})


def workload(config: Config, deck_size: int, packs: int) -> Iterator[WorkloadPoint]:
    """One simulated year per desired retention (the current one included), lowest first.

    Limits in cardlab are per pack, so the simulated collection gets them once per pack.
    """
    parameters = parameters_in_use(config)
    for retention in workload_retentions(config.desired_retention):
        yield simulate_workload(
            parameters,
            retention,
            deck_size=deck_size,
            new_per_day=config.new_per_day * max(1, packs),
            reviews_per_day=config.reviews_per_day * max(1, packs),
            days=WORKLOAD_DAYS,
        )


def calibration_to_json(found: Calibration | None) -> dict[str, Any] | None:
    if found is None:
        return None
    return {
        "reviews": found.reviews,
        "parameters": "fitted" if found.fitted else "default",
        "log_loss": round(found.log_loss, 4),
        "rmse_bins": round(found.rmse_bins, 4),
        "bins": [
            {
                "from": round(b.low, 4),
                "to": round(b.high, 4),
                "predicted": round(b.predicted, 4),
                "actual": round(b.actual, 4),
                "reviews": b.count,
            }
            for b in found.bins
        ],
    }


def workload_to_json(points: Sequence[WorkloadPoint], config: Config, deck_size: int) -> dict[str, Any]:
    return {
        "desired_retention": config.desired_retention,
        "cards": deck_size,
        "days": WORKLOAD_DAYS,
        "points": [
            {
                "desired_retention": p.desired_retention,
                "minutes_per_day": round(p.minutes_per_day, 2),
                "reviews_per_day": round(p.reviews_per_day, 1),
                "remembered": round(p.remembered, 1),
            }
            for p in points
        ],
    }
