"""`cardlab optimize` on a real review log, side by side with fsrs-rs' own fit and py-fsrs' optimizer.

The log is a CSV `card_id,review_rating,review_time,review_duration` (ratings 1-4, ISO times, ms), as
py-fsrs' tests ship it. It is loaded into a fresh cardlab store, then:

- cardlab: `cardlab optimize` on that store (fsrs-rs, 24-hour days, the 5-fold time-series split);
- fsrs-rs own: the same CSV turned into FSRS items the way fsrs-rs-python's `examples/train_csv.py` does
  (calendar days with a 4 am rollover, here in UTC), fitted with `compute_parameters` and measured with
  its `evaluate_with_time_series_splits`;
- py-fsrs: `fsrs.optimizer.Optimizer(...).compute_optimal_parameters()` (torch), as cardlab did before.

Every parameter set is also scored on all of cardlab's scored answers (in-sample, one scorer for all).
Fit times are medians of `--repeats` runs (py-fsrs: one run). Prints one JSON object as its last line.

    .venv/bin/python bench/optimize.py PATH/revlog.csv [--repeats 5] [--skip-py-fsrs]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fsrs_rs_python  # noqa: E402

from cards.fsrs_rs import predict, scored_answers, to_reviews  # noqa: E402
from cards.optimize import optimize, review_histories, score  # noqa: E402
from cards.paths import Home  # noqa: E402
from cards.store import REVIEW, ReviewRow, Store  # noqa: E402
from cards.study_day import from_ms  # noqa: E402

ROLLOVER = timedelta(hours=4)


def read_log(path: Path) -> list[tuple[str, int, datetime, int]]:
    with path.open(newline="", encoding="utf-8") as file:
        return [
            (
                row["card_id"],
                int(row["review_rating"]),
                datetime.fromisoformat(row["review_time"]),
                int(row["review_duration"]),
            )
            for row in csv.DictReader(file)
        ]


def load_into_store(store: Store, log: list[tuple[str, int, datetime, int]]) -> None:
    rows = []
    for card_id, rating, moment, duration in log:
        at_ms = round(moment.timestamp() * 1000)
        rows.append(
            ReviewRow("revlog", card_id, "", rating, REVIEW, REVIEW, at_ms, duration, at_ms, 1.0, 5.0)
        )
    with store.transaction():
        store.add_reviews(rows)


def fsrs_rs_own_items(log: list[tuple[str, int, datetime, int]]) -> list:
    """fsrs-rs-python's examples/train_csv.py: per card, calendar-day gaps, an item per later-day answer."""
    by_card: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    for card_id, rating, moment, _ in log:
        by_card[card_id].append((moment - ROLLOVER, rating))
    dated = []
    for history in by_card.values():
        history.sort()
        reviews, last = [], history[0][0].date()
        for moment, rating in history:
            delta_t = (moment.date() - last).days
            reviews.append(fsrs_rs_python.FSRSReview(rating, delta_t))
            if delta_t > 0:
                dated.append((moment, fsrs_rs_python.FSRSItem(list(reviews))))
            last = moment.date()
    dated.sort(key=lambda pair: pair[0])
    return [item for _, item in dated]


def timed(function, repeats: int) -> tuple[object, float]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return result, statistics.median(times)


def py_fsrs_fit(store: Store) -> tuple[list[float], float]:
    import fsrs
    from fsrs.optimizer import Optimizer

    logs = [
        fsrs.ReviewLog(
            card_id=index, rating=fsrs.Rating(rating), review_datetime=from_ms(at_ms), review_duration=None
        )
        for index, history in enumerate(review_histories(store), start=1)
        for at_ms, rating in history
    ]
    started = time.perf_counter()
    fitted = Optimizer(logs).compute_optimal_parameters()
    return [float(v) for v in fitted], time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path, help="revlog.csv")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-py-fsrs", action="store_true", help="leave out py-fsrs' slow optimizer")
    args = parser.parse_args()
    log = read_log(args.log)
    report: dict[str, object] = {"bench": "optimize", "log": args.log.name, "review_rows": len(log)}
    with tempfile.TemporaryDirectory(prefix="cardlab-optimize-") as folder:
        home = Home.at(folder).ensure()
        with Store.open(home.store_path) as store:
            load_into_store(store, log)
            results = []
            for _ in range(args.repeats):
                home.config_path.unlink(missing_ok=True)  # each run starts from the defaults
                results.append(optimize(store, home))
            result = results[-1]
            histories = review_histories(store)
            cards = [to_reviews(history) for history in histories]
            scored = scored_answers(cards, histories)

            own_items = fsrs_rs_own_items(log)
            own_params, own_fit_s = timed(
                lambda: fsrs_rs_python.FSRS([]).compute_parameters(own_items), args.repeats
            )
            own_split = fsrs_rs_python.evaluate_with_time_series_splits(own_items)
            sets = {"cardlab": list(result.fitted), "fsrs_rs_own": list(own_params)}
            report["cardlab"] = {
                "reviews": result.reviews,
                "held_out": result.held_out,
                "fit_s": round(statistics.median(r.fit_seconds for r in results), 4),
                "optimize_s": round(statistics.median(r.seconds for r in results), 4),
                "log_loss_default": round(result.default.log_loss, 4),
                "log_loss_fitted": round(result.split_fitted.log_loss, 4),
                "rmse_bins_default": round(result.default.rmse_bins, 4),
                "rmse_bins_fitted": round(result.split_fitted.rmse_bins, 4),
            }
            report["fsrs_rs_own"] = {
                "items": len(own_items),
                "fit_s": round(own_fit_s, 4),
                "log_loss_split": round(own_split.log_loss, 4),
                "rmse_bins_split": round(own_split.rmse_bins, 4),
            }
            if not args.skip_py_fsrs:
                try:
                    py_params, py_fit_s = py_fsrs_fit(store)
                except ImportError as missing:  # py-fsrs builds its Optimizer only with its extra's packages
                    report["py_fsrs"] = {"skipped": f"{missing}".replace("\n", " ")}
                else:
                    sets["py_fsrs"] = py_params
                    report["py_fsrs"] = {"fit_s": round(py_fit_s, 2)}
            sets["default"] = list(fsrs_rs_python.DEFAULT_PARAMETERS)
            report["in_sample"] = {
                name: {
                    "log_loss": round(
                        (s := score(cards, scored, predict(cards, scored, params))).log_loss, 4
                    ),
                    "rmse_bins": round(s.rmse_bins, 4),
                }
                for name, params in sets.items()
            }
            ours, theirs = report["cardlab"]["log_loss_fitted"], report["fsrs_rs_own"]["log_loss_split"]
            report["held_out_log_loss_vs_fsrs_rs_own"] = round(ours / theirs - 1, 4)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
