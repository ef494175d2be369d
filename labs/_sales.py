"""Daily store sales for the time-series labs: features, log target, and the future the model never sees."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from engine.datasets.tabular import make_store_sales

CAT_NAMES = ["store", "day_of_week", "month", "day", "promo", "state_holiday", "school_holiday", "competition_open", "year"]
CONT_NAMES = ["competition_distance", "day_of_year", "elapsed"]
TARGET = "log_sales"


def load_sales(data: Path | None, stores: int, days: int, seed: int) -> tuple[pd.DataFrame, str]:
    """Open days only (closed days sell nothing and are not scored, as in the Rossmann competition)."""
    if data is None:
        frame, source = make_store_sales(n_stores=stores, n_days=days, seed=seed), f"{stores} generated stores x {days} days"
    else:
        frame, source = pd.read_csv(data, parse_dates=["date"]), f"store sales from {data}"
        missing = {"store", "date", "sales", "open"} - set(frame.columns)
        if missing:
            raise ValueError(f"{data}: a store-sales CSV needs the columns store, date, open, sales (missing {sorted(missing)})")
    return add_date_features(frame), source


def add_date_features(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.sort_values(["date", "store"]).reset_index(drop=True)
    dates = pd.DatetimeIndex(frame["date"])
    for name, values in (
        ("day_of_week", dates.dayofweek),
        ("month", dates.month),
        ("day", dates.day),
        ("year", dates.year),
        ("day_of_year", dates.dayofyear),
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
    return frame[frame["date"] < cutoff].reset_index(drop=True), frame[frame["date"] >= cutoff].reset_index(drop=True)


def last_days(frame: pd.DataFrame, days: int) -> np.ndarray:
    """Row indices of the last `days` dates (the contiguous validation period)."""
    cutoff = frame["date"].max() - pd.Timedelta(days=days - 1)
    return np.flatnonzero((frame["date"] >= cutoff).to_numpy())


def rmse(predictions: np.ndarray, targets: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(predictions, dtype=float) - np.asarray(targets, dtype=float)) ** 2)))
