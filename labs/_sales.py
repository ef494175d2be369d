"""Daily store sales for the time-series labs: features, log target, and the future the model never sees."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from engine.datasets.tabular import make_store_sales

CAT_NAMES = [
    "store",
    "day_of_week",
    "month",
    "day",
    "promo",
    "state_holiday",
    "school_holiday",
    "competition_open",
    "year",
]
CONT_NAMES = ["competition_distance", "day_of_year", "elapsed"]
TARGET = "log_sales"


def load_sales(
    data: Path | None, stores: int, days: int, seed: int, drift: float = 0.0
) -> tuple[pd.DataFrame, str]:
    """The series with date features; `drift` (generated data only) adds a wandering store level."""
    if data is None:
        frame = with_drift(make_store_sales(n_stores=stores, n_days=days, seed=seed), drift, seed)
        source = f"{stores} generated stores x {days} days"
    else:
        frame, source = pd.read_csv(data, parse_dates=["date"]), f"store sales from {data}"
        missing = {"store", "date", "sales"} - set(frame.columns)
        if missing:
            raise ValueError(
                f"{data}: a store-sales CSV needs the columns store, date, sales and optionally open "
                f"(missing {sorted(missing)})"
            )
        if "open" not in frame.columns:  # a table of the days the stores were open
            frame["open"] = 1
    return add_date_features(frame), source


def with_drift(frame: pd.DataFrame, drift: float, seed: int) -> pd.DataFrame:
    """Multiply each store's sales by exp(a random walk with daily steps of std `drift`).

    Real sales wander (a new manager, roadworks, a local trend) in ways no column records; the generated
    series has no such wander unless it is added here.
    """
    if drift <= 0:
        return frame
    rng = np.random.default_rng(seed + 1)
    frame = frame.sort_values(["store", "date"]).reset_index(drop=True)
    steps = rng.normal(0.0, drift, len(frame))
    walk = pd.Series(steps).groupby(frame["store"].to_numpy()).cumsum().to_numpy()
    frame["sales"] = np.round(frame["sales"].to_numpy() * np.exp(walk))
    return frame


def add_date_features(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.sort_values(["date", "store"]).reset_index(drop=True)
    dates = pd.DatetimeIndex(frame["date"])
    for name, values in (
        ("day_of_week", dates.day_of_week),
        ("month", dates.month),
        ("day", dates.day),
        ("year", dates.year),
        ("day_of_year", dates.day_of_year),
    ):
        frame[name] = np.asarray(values)
    frame["elapsed"] = (dates - dates.min()).days.to_numpy(dtype=float)
    frame[TARGET] = np.log1p(frame["sales"].to_numpy(dtype=float))
    for column in CAT_NAMES + CONT_NAMES:
        if column not in frame.columns:
            frame[column] = 0
    return frame


def split_future(frame: pd.DataFrame, test_days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(history, future): the last `test_days` dates are the future nobody trains or validates on."""
    cutoff = frame["date"].max() - pd.Timedelta(days=test_days - 1)
    return frame[frame["date"] < cutoff].reset_index(drop=True), frame[frame["date"] >= cutoff].reset_index(
        drop=True
    )


def last_days(frame: pd.DataFrame, days: int) -> np.ndarray:
    """Row indices of the last `days` dates (the contiguous validation period)."""
    cutoff = frame["date"].max() - pd.Timedelta(days=days - 1)
    return np.flatnonzero((frame["date"] >= cutoff).to_numpy())


def rmse(predictions: np.ndarray, targets: np.ndarray) -> float:
    return float(
        np.sqrt(np.mean((np.asarray(predictions, dtype=float) - np.asarray(targets, dtype=float)) ** 2))
    )
