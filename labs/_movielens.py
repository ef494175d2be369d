"""The ratings the collab labs train on: generated MovieLens-shaped data, or ml-100k / ML_SAMPLE; and the
pieces both collab labs' experiments share (splits by row, plain-mean baselines, a fit, its held-out MSE)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from engine.datasets.movielens import MovieLens, make_movielens, read_movielens
from labs.errors import LabError

if TYPE_CHECKING:
    from engine.collab import CollabData, CollabLearner
    from labs.context import LabContext

GENERATOR = (
    "make_movielens: MovieLens-shaped ratings from latent factors. It was given, per user, a bias and a "
    "6-number taste; per movie, a bias and 6 traits; a rating is round(3.15 + biases + taste · traits + "
    "noise (sd 0.82)) clipped to 1-5. The user's bias and taste are part linear in age, gender and "
    "occupation, part individual (about half each); the movie's part linear in genres and year"
)


def load_movielens(
    data: Path | None, users: int, items: int, ratings: int, seed: int
) -> tuple[MovieLens, str]:
    """(data, where it came from); `data` is an ml-100k folder or a ratings CSV, of which at most `ratings`
    rows are read (so the smoke preset stays small on a big file)."""
    if data is None:
        ml = make_movielens(n_users=users, n_items=items, n_ratings=ratings, seed=seed)
        return ml, f"{ratings} generated ratings ({users} users, {items} movies, MovieLens-shaped)"
    ml = read_movielens(data, nrows=ratings)
    return ml, f"{len(ml.ratings)} ratings from {data} (at most {ratings} read)"


def matrix_corner(ml: MovieLens, size: int = 8) -> tuple[list[str], list[list[str]], int]:
    """`size` users spread from the most to the least active against `size` movies spread from the most
    to the least rated (the busiest corner of a dense sample has no gaps to show): columns, rows, and how
    many of its cells are empty."""
    ratings = ml.ratings
    by_user = ratings["user"].value_counts().index
    by_item = ratings["item"].value_counts().index
    users = list(
        dict.fromkeys(by_user[np.linspace(0, len(by_user) - 1, min(size, len(by_user))).astype(int)])
    )
    items = list(
        dict.fromkeys(by_item[np.linspace(0, len(by_item) - 1, min(size, len(by_item))).astype(int)])
    )
    corner = ratings[ratings.user.isin(users) & ratings.item.isin(items)]
    table = corner.pivot_table(index="user", columns="item", values="rating", aggfunc="first")
    table = table.reindex(index=users, columns=items)
    columns = ["user \\ movie", *(str(item) for item in items)]
    rows = [
        [str(user), *("·" if value != value else f"{value:g}" for value in table.loc[user])] for user in users
    ]
    return columns, rows, int(table.isna().to_numpy().sum())


def density(ratings: pd.DataFrame) -> float:
    """The share of the users x movies matrix that holds a rating."""
    return len(ratings) / max(1, ratings["user"].nunique() * ratings["item"].nunique())


def parse_grid(text: str, name: str) -> list[float]:
    """A parameter like "0.01,0.03,0.1": the values a grid search tries, each positive."""
    try:
        values = [float(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        raise LabError(f"{name}: {text!r} is not a comma-separated list of numbers") from None
    if not values or not all(math.isfinite(v) and v >= 0 for v in values):
        raise LabError(f"{name}: {text!r} needs one or more non-negative numbers")
    return values


def auto_batch_size(n_train: int) -> int:
    """About 16+ batches an epoch: a power of two in 32..1024 (ML_SAMPLE: 256; ml-100k: 1,024)."""
    return int(min(1024, max(32, 2 ** math.floor(math.log2(max(n_train, 1) / 16)))))


def subset(
    ratings: pd.DataFrame, train: Sequence[int], evaluate: Sequence[int]
) -> tuple[pd.DataFrame, list[int]]:
    """The rows `train` + `evaluate` of `ratings` as one frame, and where the `evaluate` rows are in it."""
    rows = sorted(set(train) | set(evaluate))
    position = {row: k for k, row in enumerate(rows)}
    return ratings.iloc[rows].reset_index(drop=True), [position[row] for row in evaluate]


def mean_predictions(
    train: pd.DataFrame, evaluate: pd.DataFrame, users: bool = True, damping: float = 0.0
) -> np.ndarray:
    """Plain means from the `train` rows for the `evaluate` rows: the movie's mean rating (shrunk toward the
    global mean by `damping` pseudo-ratings), plus, with `users`, the user's mean offset from the global
    mean (shrunk alike). Unknown users or movies get no offset. Clipped to the ratings' range."""
    overall = float(train["rating"].mean())
    prediction = np.full(len(evaluate), overall)
    for column in ("item", "user") if users else ("item",):
        groups = train.groupby(column)["rating"].agg(["sum", "size"])
        offset = (groups["sum"] - groups["size"] * overall) / (groups["size"] + damping)
        prediction += evaluate[column].map(offset).fillna(0.0).to_numpy(dtype=float)
    low, high = float(train["rating"].min()), float(train["rating"].max())
    return np.clip(prediction, low, high)


def restart_order(loader: Any, seed: int) -> None:
    """Reseed a shuffling loader's generator, so every fit on the same data sees the batches of `seed` in
    the same order (a shared loader's generator otherwise goes on from where the last fit left it)."""
    generator = getattr(loader, "generator", None)
    if generator is not None:
        generator.manual_seed(seed)


def mse(predictions: Any, targets: Any) -> float:
    difference = np.asarray(predictions, dtype=float).reshape(-1) - np.asarray(targets, dtype=float).reshape(
        -1
    )
    return float(np.mean(difference**2))


def fit_dot_bias(
    ctx: LabContext,
    data: CollabData,
    n_factors: int,
    y_range: tuple[float, float],
    choice: tuple[float, float],
    epochs: int,
    curve: str = "",
) -> CollabLearner:
    """EmbeddingDotBias at (lr, L2) = `choice`, trained with fit_one_cycle for `epochs`; drawn as `curve`
    when named (tuning fits are not), the way both MovieLens labs train each arm."""
    ctx.check_cancelled()
    learn = dot_bias_learner(ctx, data, n_factors, y_range, choice)
    if curve:
        ctx.curve(curve)
        ctx.watch(learn)
    learn.fit_one_cycle(epochs, choice[0])
    return learn


def dot_bias_learner(
    ctx: LabContext,
    data: CollabData,
    n_factors: int,
    y_range: tuple[float, float],
    choice: tuple[float, float],
) -> CollabLearner:
    """The untrained EmbeddingDotBias learner `fit_dot_bias` trains (or a model's sent-back weights fill)."""
    from engine.collab import collab_learner

    lr, l2 = choice
    return collab_learner(
        data,
        n_factors=n_factors,
        y_range=y_range,
        wd=0.0,
        emb_l2=l2,
        lr=lr,
        device=ctx.device,
        path=ctx.work_dir,
    )
