"""Collaborative-filtering data: (user, item, rating[, timestamp]) rows, id maps, a seeded random split.

    data = collab_data(ratings, valid_pct=0.1, seed=42, bs=64, titles=ml.titles())
    data.dls                  # batches (user_idx int64 [bs], item_idx int64 [bs], rating float32 [bs])
    data.users.index_of(196)  # model index of a user id; unknown ids raise UnknownIdError (a ValueError)

The id maps are fitted on the training rows (index 0 = `#na#`, for ids never seen in training) and are
kept with the model, so predictions and recommendations speak in the original ids.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from engine.data import DataLoaders, TensorLoader

NA_ID = "#na#"


class UnknownIdError(ValueError):
    """An id the model never saw in training (a ValueError, never a KeyError)."""


def id_key(value: Any) -> Any:
    """3, 3.0 and np.int64(3) are the same id; strings are compared as written."""
    if isinstance(value, (np.integer, int)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (np.floating, float)) and float(value).is_integer():
        return int(value)
    return value


class IdMap:
    """Original ids <-> contiguous model indices; index 0 is `#na#` (ids never seen in training)."""

    def __init__(self, ids: Iterable[Hashable], kind: str = "id") -> None:
        unique = {id_key(v) for v in ids}
        self.kind = kind
        self.classes: list[Any] = [NA_ID, *sorted(unique, key=lambda v: (type(v).__name__, v))]
        self._index = {v: i for i, v in enumerate(self.classes) if i > 0}

    def __len__(self) -> int:
        return len(self.classes)

    def __contains__(self, value: Hashable) -> bool:
        return id_key(value) in self._index

    def index_of(self, value: Hashable) -> int:
        """The model index of an id; raises UnknownIdError with a readable message for unseen ids."""
        index = self._index.get(id_key(value))
        if index is None:
            examples = ", ".join(repr(v) for v in self.classes[1:4])
            raise UnknownIdError(
                f"unknown {self.kind} {value!r}: it has no ratings in the training data, so the model has no "
                f"factors for it ({len(self) - 1} known {self.kind}s, e.g. {examples}); "
                "a cold-start (metadata) model can predict for it"
            )
        return index

    def encode(self, values: Iterable[Hashable]) -> np.ndarray:
        """Model indices for many ids; unknown ids become 0 (`#na#`)."""
        return np.fromiter((self._index.get(id_key(v), 0) for v in values), dtype=np.int64)

    def decode(self, indices: Iterable[int]) -> list[Any]:
        return [self.classes[int(i)] for i in indices]


def _column_names(
    df: pd.DataFrame, user_name: str | None, item_name: str | None, rating_name: str | None
) -> tuple[str, str, str]:
    """Default to the first three columns, like the lesson's `from_df(ratings)`."""
    if len(df.columns) < 3:
        raise ValueError(f"ratings need user, item and rating columns; got {list(df.columns)}")
    names = (user_name or df.columns[0], item_name or df.columns[1], rating_name or df.columns[2])
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the ratings (it has {list(df.columns)})")
    return names


@dataclass
class CollabData:
    """Ratings with their id maps, split and loaders. `rated` holds every (user, item) pair of the frame."""

    ratings: pd.DataFrame
    user_name: str
    item_name: str
    rating_name: str
    users: IdMap
    items: IdMap
    train_idx: np.ndarray
    valid_idx: np.ndarray
    dls: DataLoaders
    titles: dict[Any, str] = field(default_factory=dict)
    rated: dict[int, set[int]] = field(default_factory=dict)  # user index -> item indices

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def title(self, item: Any) -> str:
        return str(self.titles.get(id_key(item), item))

    def rating_range(self) -> tuple[float, float]:
        column = self.ratings[self.rating_name]
        return float(column.min()), float(column.max())


def _rated_pairs(user_idx: np.ndarray, item_idx: np.ndarray) -> dict[int, set[int]]:
    rated: dict[int, set[int]] = {}
    for u, i in zip(user_idx.tolist(), item_idx.tolist()):
        rated.setdefault(u, set()).add(i)
    return rated


def collab_data(
    ratings: pd.DataFrame,
    user_name: str | None = None,
    item_name: str | None = None,
    rating_name: str | None = None,
    valid_pct: float = 0.1,
    seed: int = 42,
    bs: int = 64,
    valid_bs: int | None = None,
    titles: Mapping[Any, str] | None = None,
    valid_idx: Iterable[int] | None = None,
) -> CollabData:
    """Random `valid_pct` validation split (seeded), id maps fitted on training rows, in-memory loaders.

    Columns default to the frame's first three (user, item, rating). `titles` maps item id -> title for
    recommendations and interpretation. `valid_idx` (row positions) replaces the random split: those rows
    validate, the rest train, and `seed` then only orders the training batches.
    """
    user_name, item_name, rating_name = _column_names(ratings, user_name, item_name, rating_name)
    ratings = ratings.reset_index(drop=True)
    if ratings[[user_name, item_name, rating_name]].isna().any().any():
        raise ValueError("ratings have missing users, items or ratings: drop those rows first")
    if valid_idx is not None:
        is_valid = np.zeros(len(ratings), dtype=bool)
        is_valid[np.fromiter(valid_idx, dtype=np.int64)] = True
        if is_valid.all() or not is_valid.any():
            raise ValueError("valid_idx must name some rows, but not every row")
        valid_rows, train_idx = np.flatnonzero(is_valid), np.flatnonzero(~is_valid)
    else:
        if not 0 < valid_pct < 1:
            raise ValueError(f"valid_pct must be between 0 and 1, not {valid_pct}")
        order = np.random.default_rng(seed).permutation(len(ratings))
        n_valid = max(1, round(len(ratings) * valid_pct))
        valid_rows, train_idx = np.sort(order[:n_valid]), np.sort(order[n_valid:])
    users = IdMap(ratings[user_name].iloc[train_idx].unique(), "user")
    items = IdMap(ratings[item_name].iloc[train_idx].unique(), "item")
    u = torch.from_numpy(users.encode(ratings[user_name]))
    i = torch.from_numpy(items.encode(ratings[item_name]))
    r = torch.tensor(ratings[rating_name].to_numpy(dtype=np.float32))
    tr, va = torch.from_numpy(train_idx), torch.from_numpy(valid_rows)
    generator = torch.Generator().manual_seed(seed)
    train = TensorLoader(u[tr], i[tr], r[tr], batch_size=bs, shuffle=True, generator=generator)
    valid = TensorLoader(u[va], i[va], r[va], batch_size=valid_bs or max(bs, 1024))
    title_map = {id_key(k): str(v) for k, v in (titles or {}).items()}
    rated = _rated_pairs(u.numpy(), i.numpy())
    return CollabData(
        ratings,
        user_name,
        item_name,
        rating_name,
        users,
        items,
        train_idx,
        valid_rows,
        DataLoaders(train, valid),
        title_map,
        rated,
    )
