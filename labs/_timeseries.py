"""Time-ordered tables for the time-series labs (contiguous-split, tabular-time-series).

Real data first: MovieLens ratings with their timestamps (fastai's ML_SAMPLE `ratings.csv`, or an ml-100k
folder's `u.data`): every rating is one row, the user is the "entity" whose past a model may read, the
rating is the target. A store-sales CSV (`store, date, sales`, optional `open`) works too. Offline, the
store-sales generator (`engine.datasets.tabular.make_store_sales`) makes the rows.

Every table comes sorted by time, with a `time` column, an `entity` column, the target `y`, and the
row's own features as `cat_names` / `cont_names` (what a tabular model reads, as in the lesson's
`add_datepart`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from engine.datasets.movielens import read_movielens
from labs._sales import CAT_NAMES, CONT_NAMES, TARGET, load_sales

RATING_CATS = ["user", "movie", "day_of_week", "month"]
RATING_CONTS = ["year", "elapsed"]
LAG_CONTS = ["prev_y", "prev_mean", "prev_count", "days_since"]  # the tabular model's summary of the past


@dataclass
class TimeTable:
    frame: pd.DataFrame  # sorted by time; columns time, entity, y and the features
    cat_names: list[str]
    cont_names: list[str]
    description: str  # one line: what the rows are and where they came from
    unit: str  # what a row is: "ratings", "store-days"
    target: str  # the target in words
    entity: str  # whose past a model may read: "user", "store"
    y_range: tuple[float, float]
    by_days: bool  # periods are whole days (sales), else shares of the rows (ratings)
    real: bool  # read from a file, not generated


def is_sales_csv(path: Path) -> bool:
    if not path.is_file():
        return False
    with path.open(encoding="utf-8", errors="replace") as handle:
        header = handle.readline().strip().split(",")
    return "sales" in header and "store" in header


def load_table(
    data: Path | None, stores: int, days: int, seed: int, drift: float = 0.0, max_rows: int = 0
) -> TimeTable:
    """The lab's rows: `data` (a MovieLens folder or ratings CSV, or a store-sales CSV), or generated
    store sales (`stores` x `days`, with `drift` added to each store's level when it is non-zero);
    the latest `max_rows` ratings only, when given."""
    if data is not None and not is_sales_csv(Path(data)):
        return ratings_table(Path(data), max_rows)
    frame, source = load_sales(data, stores, days, seed, drift=drift)
    if "open" in frame.columns:
        frame = frame[frame["open"] == 1]
    frame = frame.sort_values(["date", "store"], kind="stable").reset_index(drop=True)
    frame["time"], frame["entity"], frame["y"] = frame["date"], frame["store"], frame[TARGET]
    top = float(frame["y"].max()) * 1.2
    return TimeTable(frame, list(CAT_NAMES), list(CONT_NAMES), source, "store-days", "log(1 + sales)",
                     "store", (0.0, top), True, data is not None)  # fmt: skip


def ratings_table(path: Path, max_rows: int = 0) -> TimeTable:
    ratings = read_movielens(path).ratings
    if (ratings["timestamp"] == 0).all():
        raise ValueError(f"{path}: the ratings have no timestamps; a time-series lab needs them")
    frame = ratings.sort_values("timestamp", kind="stable").reset_index(drop=True)
    if max_rows and len(frame) > max_rows:
        frame = frame.iloc[-max_rows:].reset_index(drop=True)
    time = pd.to_datetime(frame["timestamp"], unit="s")
    frame = pd.DataFrame(
        {
            "user": frame["user"].to_numpy(),
            "movie": frame["item"].to_numpy(),
            "time": time,
            "day_of_week": time.dt.day_of_week.to_numpy(),
            "month": time.dt.month.to_numpy(),
            "year": time.dt.year.to_numpy(dtype=float),
            "elapsed": ((time - time.min()).dt.total_seconds() / 86400.0).to_numpy(),
            "y": frame["rating"].to_numpy(dtype=float),
        }
    )
    frame["entity"] = frame["user"]
    first, last = time.min().date(), time.max().date()
    description = (
        f"{len(frame)} MovieLens ratings from {path} ({frame['user'].nunique()} users, "
        f"{frame['movie'].nunique()} movies, {first} to {last})"
    )
    return TimeTable(frame, list(RATING_CATS), list(RATING_CONTS), description, "ratings", "rating",
                     "user", (0.0, 5.5), False, True)  # fmt: skip


def latest(table: TimeTable, rows: np.ndarray, days: int, share: float) -> np.ndarray:
    """The latest period of `rows` (sorted indices into the table): its last `days` dates for sales,
    its latest `share` of the rows for ratings (ties in time stay together)."""
    times = table.frame["time"].to_numpy()[rows]
    if table.by_days:
        cutoff = times.max() - np.timedelta64(days - 1, "D")
    else:
        cutoff = np.sort(times)[max(0, min(len(rows) - 1, int(round(len(rows) * (1 - share)))))]
    return rows[times >= cutoff]


def time_splits(table: TimeTable, days: int, share: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(earlier, tune, held-out): the latest period is held out, the one before it is for tuning."""
    every = np.arange(len(table.frame))
    holdout = latest(table, every, days, share)
    history = np.setdiff1d(every, holdout)
    share_of_history = share / (1 - share) if not table.by_days else share
    tune = latest(table, history, days, share_of_history)
    return np.setdiff1d(history, tune), tune, holdout


def add_lags(table: TimeTable, window: int) -> pd.DataFrame:
    """The frame with a summary of each entity's past as columns (computed from earlier rows only):
    the previous target, the mean of the last `window` targets, how many came before (log), and the
    days since the previous row. The first row of an entity has no past: left missing (FillMissing)."""
    frame = table.frame.copy()
    grouped = frame.groupby("entity", sort=False)["y"]
    frame["prev_y"] = grouped.shift(1)
    frame["prev_mean"] = grouped.transform(lambda s: s.shift(1).rolling(window, min_periods=1).mean())
    frame["prev_count"] = np.log1p(frame.groupby("entity", sort=False).cumcount().to_numpy(dtype=float))
    previous_time = frame.groupby("entity", sort=False)["time"].shift(1)
    frame["days_since"] = (frame["time"] - previous_time).dt.total_seconds() / 86400.0
    return frame


def history_index(table: TimeTable, window: int) -> np.ndarray:
    """(rows, window): the row indices of each row's entity's previous `window` rows, oldest first,
    -1 where the entity has fewer."""
    frame = table.frame
    history = np.full((len(frame), window), -1, dtype=np.int64)
    for rows in frame.groupby("entity", sort=False).indices.values():
        rows = np.sort(rows)
        padded = np.concatenate([np.full(window, -1, dtype=np.int64), rows])
        for k in range(window):  # column k holds the (window - k)-th previous row
            history[rows, k] = padded[k : k + len(rows)]
    return history


def rmse(predictions: np.ndarray, targets: np.ndarray) -> float:
    diff = np.asarray(predictions, dtype=float) - np.asarray(targets, dtype=float)
    return float(np.sqrt(np.mean(diff**2)))
