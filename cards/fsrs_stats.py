"""Statistics that need the FSRS model, to help choose `desired_retention`: calibration and workload.

- Calibration: at every answer given a day or more after the card's previous one, the recall the
  parameters in use predicted, against whether the card was recalled; grouped by prediction.
- Workload: fsrs-rs' simulator studies the packs' cards for a year under the study limits at each
  desired retention; time per day, answers per day and cards remembered at the end.

With true retention by month, these take a while on a large history, and fsrs-rs holds Python's lock
while it computes: the stats screen runs them in a child process, `python -m cards.fsrs_stats`, which
reads one JSON request on stdin and prints one JSON line per result as it comes (`report`, `main`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import date
from pathlib import Path
from typing import Any

from cards.config import Config
from cards.fsrs_rs import WorkloadPoint, predict, scored_answers, simulate_workload, to_reviews
from cards.metrics import CalibrationBin, calibration, log_loss, rmse_bin_key, rmse_bins
from cards.optimize import review_histories
from cards.stats import MonthRetention, retention_by_month
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
    keys = [rmse_bin_key(answer.delta_t, answer.long_term, answer.lapses) for answer in scored]
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


# -- the child process the stats screen runs --------------------------------------------------------


def request(store_path: Path, config: Config, deck_size: int, packs: int) -> str:
    """The JSON line that asks `python -m cards.fsrs_stats` for a report."""
    return json.dumps(
        {"store": str(store_path), "config": asdict(config), "cards": deck_size, "packs": packs}
    )


def report(line: str) -> Iterator[dict[str, Any]]:
    """Answer a `request`: retention by month, then calibration, then each workload point."""
    asked = json.loads(line)
    values = {f.name: asked["config"][f.name] for f in fields(Config)}
    config = Config(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})  # type: ignore[arg-type]  # the request holds a Config as JSON
    with Store.open(asked["store"]) as store:
        months = retention_by_month(store, config)
        yield {"months": [{**asdict(m), "month": m.month.isoformat()} for m in months]}
        found = collect_calibration(store, config)
    yield {
        "calibration": None if found is None else {**asdict(found), "bins": [asdict(b) for b in found.bins]}
    }
    for point in workload(config, asked["cards"], asked["packs"]):
        yield {"workload": asdict(point)}


def months_from(data: list[dict[str, Any]]) -> list[MonthRetention]:
    return [MonthRetention(date.fromisoformat(m["month"]), m["answered"], m["recalled"]) for m in data]


def calibration_from(data: dict[str, Any] | None) -> Calibration | None:
    if data is None:
        return None
    return Calibration(**{**data, "bins": [CalibrationBin(**b) for b in data["bins"]]})


def workload_point_from(data: dict[str, Any]) -> WorkloadPoint:
    return WorkloadPoint(**data)


def main() -> None:
    try:
        for answer in report(sys.stdin.readline()):
            print(json.dumps(answer), flush=True)
    except Exception as err:  # the screen shows it in one line; the child has no terminal of its own
        print(json.dumps({"error": f"{type(err).__name__}: {err}"}), flush=True)


if __name__ == "__main__":
    main()
