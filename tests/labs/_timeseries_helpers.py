"""Small time-ordered tables and files for the time-series labs' protocol tests (no /work/shared files)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from engine.utils import set_seed
from labs._timeseries import RATING_CATS, RATING_CONTS, TimeTable


def fake_ctx(tmp_path: Path) -> SimpleNamespace:
    """What the labs' fitting helpers read from a LabContext: the device, a folder, reseed and watch."""
    return SimpleNamespace(device="cpu", work_dir=tmp_path, reseed=set_seed, watch=lambda learn: learn)


def no_effect_ratings(rows: int, seed: int, users: int = 20, movies: int = 30) -> TimeTable:
    """Ratings drawn independently of the user, the movie, the time and the past: nothing for any
    model, split or arm to use."""
    rng = np.random.default_rng(seed)
    time = pd.to_datetime(np.sort(rng.integers(9 * 10**8, 10**9, rows)), unit="s")
    frame = pd.DataFrame(
        {
            "user": rng.integers(1, users + 1, rows),
            "movie": rng.integers(1, movies + 1, rows),
            "time": time,
            "day_of_week": time.day_of_week,
            "month": time.month,
            "year": time.year.to_numpy(dtype=float),
            "elapsed": ((time - time.min()).total_seconds() / 86400.0).to_numpy(),
            "y": rng.choice([1.0, 2.0, 3.0, 4.0, 5.0], rows),
        }
    )
    frame["entity"] = frame["user"]
    return TimeTable(frame, list(RATING_CATS), list(RATING_CONTS), "no-effect ratings", "ratings", "rating",
                     "user", (0.0, 5.5), False, True)  # fmt: skip


def ratings_csv(path: Path, rows: int, users: int = 12, movies: int = 20) -> Path:
    """A file in ML_SAMPLE's ratings.csv layout, timestamps increasing."""
    rng = np.random.default_rng(1)
    lines = ["userId,movieId,rating,timestamp"]
    for i in range(rows):
        rating = 0.5 * int(rng.integers(2, 11))
        lines.append(f"{1 + i % users},{1 + int(rng.integers(movies))},{rating},{10**9 + 3600 * i}")
    path.write_text("\n".join(lines) + "\n")
    return path


def sales_csv(path: Path, stores: int, days: int, with_open: bool = True) -> Path:
    """A store-sales CSV in the columns --data has always taken (store, date, open, sales)."""
    rng = np.random.default_rng(2)
    lines = ["store,date,open,sales" if with_open else "store,date,sales"]
    for day in pd.date_range("2015-01-01", periods=days, freq="D"):
        for store in range(1, stores + 1):
            sales = int(rng.integers(3000, 9000))
            lines.append(
                f"{store},{day:%Y-%m-%d},1,{sales}" if with_open else f"{store},{day:%Y-%m-%d},{sales}"
            )
    path.write_text("\n".join(lines) + "\n")
    return path
