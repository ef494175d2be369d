"""Cold start: predict ratings for users or items with no ratings, from their metadata.

A collaborative-filtering model has nothing to say about a user it never saw. This metadata model builds each
user's factors from age, gender and occupation, and each item's from genres and year, *plus* an id embedding
when the id was seen in training. During training a random share of ids is hidden (`id_dropout`), so the
metadata part must learn to stand on its own: that is what answers for new users and new items.

    data = cold_start_data(ml, new_user_pct=0.1, seed=42)       # validation = every rating of unseen users
    cold = cold_start_learner(data, n_factors=10)
    cold.fit_one_cycle(5, 1e-2)
    cold.validate()["valid_loss"], data.global_mean_mse()        # MSE on new users vs. predicting the mean
    cold.predict(user, item, user_meta={"age": 25, "gender": "F", "occupation": "student"})

    predictor = ColdStartPredictor(collab_learn, cold)          # collab for known ids, metadata otherwise
    predictor.predict(user, item)                                # Rating(value, source="collab"|"metadata")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from engine.callbacks.core import Callback
from engine.callbacks.threads import OneThreadForSmallSteps
from engine.collab.data import IdMap, UnknownIdError, id_key
from engine.collab.learner import CollabLearner, EmbeddingL2, flat_mse
from engine.data import DataLoaders, TensorLoader
from engine.datasets.movielens import MovieLens
from engine.learner import Learner
from engine.tabular.model import sigmoid_range, small_embedding


class MetadataFeaturizer:
    """Dense features from metadata tables: numbers as z-score and its square, categories one-hot.

    Statistics and category lists come from the tables given at construction (metadata, not ratings, so no
    target leaks). An unknown category or a missing number maps to all-zeros / the mean.
    """

    def __init__(
        self,
        table: pd.DataFrame,
        id_col: str,
        numeric: Sequence[str] = (),
        categorical: Sequence[str] = (),
        flags: Sequence[str] = (),
    ) -> None:
        missing = [c for c in (id_col, *numeric, *categorical, *flags) if c not in table.columns]
        if missing:
            raise ValueError(f"metadata table lacks columns {missing} (it has {list(table.columns)})")
        self.id_col, self.numeric, self.categorical, self.flags = (
            id_col,
            list(numeric),
            list(categorical),
            list(flags),
        )
        self.stats = {
            c: (float(table[c].astype(float).mean()), float(table[c].astype(float).std()) or 1.0)
            for c in self.numeric
        }
        self.levels = {c: sorted(table[c].dropna().astype(str).unique()) for c in self.categorical}
        self.rows = {id_key(k): i for i, k in enumerate(table[id_col])}
        self.table = table.reset_index(drop=True)
        self.matrix = self.transform(self.table)

    @property
    def n_features(self) -> int:
        return 2 * len(self.numeric) + sum(len(v) for v in self.levels.values()) + len(self.flags)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """float32 [n_rows, n_features] for metadata rows (absent columns count as missing)."""
        parts = []
        for col in self.numeric:
            values = (
                pd.to_numeric(frame[col], errors="coerce") if col in frame else pd.Series(np.nan, frame.index)
            )
            mean, std = self.stats[col]
            z = ((values.astype(float) - mean) / std).fillna(0.0).to_numpy()
            parts += [z, z**2 - 1]
        for col in self.categorical:
            values = frame[col].astype(str).to_numpy() if col in frame else np.full(len(frame), "")
            parts += list((values[:, None] == np.array(self.levels[col])[None, :]).astype(float).T)
        for col in self.flags:
            parts.append(frame[col].fillna(0).to_numpy(dtype=float) if col in frame else np.zeros(len(frame)))
        return np.column_stack(parts).astype(np.float32) if parts else np.zeros((len(frame), 0), np.float32)

    def features_of(self, ids: Sequence[Any], kind: str) -> np.ndarray:
        """Feature rows of ids listed in the metadata table; an id without metadata is a clear error."""
        rows = []
        for value in ids:
            row = self.rows.get(id_key(value))
            if row is None:
                raise UnknownIdError(
                    f"no metadata for {kind} {value!r}: pass its metadata (e.g. {kind}_meta=...)"
                )
            rows.append(row)
        return self.matrix[np.asarray(rows, dtype=np.int64)]


class ColdStartModel(nn.Module):
    """rating = sigmoid_range(g + b_u + b_i + <p_u, q_i>) where each side is metadata-linear + id embedding.

    p_u = W_u · user_features + E_u[user]   (E_u[0] = 0: unknown users use metadata alone)
    q_i = W_i · item_features + E_i[item]
    `id_dropout` hides that share of ids (sets them to 0) while training.
    """

    def __init__(
        self,
        n_user_feats: int,
        n_item_feats: int,
        n_users: int,
        n_items: int,
        n_factors: int = 10,
        y_range: tuple[float, float] | None = (0, 5.5),
        id_dropout: float = 0.3,
    ) -> None:
        super().__init__()
        self.user_meta = nn.Linear(n_user_feats, n_factors + 1)  # factors and a bias, from metadata
        self.item_meta = nn.Linear(n_item_feats, n_factors + 1)
        for layer in (self.user_meta, self.item_meta):
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.zeros_(layer.bias)
        self.user_id = small_embedding(n_users, n_factors + 1)
        self.item_id = small_embedding(n_items, n_factors + 1)
        self.y_range, self.id_dropout = y_range, id_dropout
        self.global_bias = nn.Parameter(torch.zeros(1))

    def _hide_ids(self, ids: Tensor) -> Tensor:
        if not self.training or self.id_dropout == 0:
            return ids
        return torch.where(
            torch.rand(ids.shape, device=ids.device) < self.id_dropout, torch.zeros_like(ids), ids
        )

    def _side(self, meta: nn.Linear, emb: nn.Embedding, ids: Tensor, feats: Tensor) -> Tensor:
        ids = self._hide_ids(ids)
        known = (ids != 0).unsqueeze(1).to(feats.dtype)  # row 0 (#na#) never contributes
        return meta(feats) + emb(ids) * known

    def forward(self, users: Tensor, user_feats: Tensor, items: Tensor, item_feats: Tensor) -> Tensor:
        u = self._side(self.user_meta, self.user_id, users, user_feats)
        i = self._side(self.item_meta, self.item_id, items, item_feats)
        out = self.global_bias + u[:, 0] + i[:, 0] + (u[:, 1:] * i[:, 1:]).sum(dim=1)
        return out if self.y_range is None else sigmoid_range(out, *self.y_range)

    def embeddings_used(
        self, users: Tensor, user_feats: Tensor, items: Tensor, item_feats: Tensor
    ) -> list[Tensor]:
        return [self.user_id(users), self.item_id(items)]


@dataclass
class ColdStartData:
    """Ratings split so validation users never appear in training, with metadata featurizers and loaders."""

    ratings: pd.DataFrame
    users: IdMap
    items: IdMap
    user_features: MetadataFeaturizer
    item_features: MetadataFeaturizer
    train_idx: np.ndarray
    valid_idx: np.ndarray
    dls: DataLoaders
    user_name: str = "user"
    item_name: str = "item"
    rating_name: str = "rating"

    def train_mean(self) -> float:
        """The mean rating of the training rows: the prediction to beat for a user with no ratings."""
        return float(self.ratings[self.rating_name].to_numpy(dtype=float)[self.train_idx].mean())

    def global_mean_mse(self) -> float:
        """The baseline to beat: MSE on the validation rows of predicting the training mean rating."""
        ratings = self.ratings[self.rating_name].to_numpy(dtype=float)
        return float(((ratings[self.valid_idx] - self.train_mean()) ** 2).mean())


def _hold_out_users(ratings: pd.DataFrame, user_name: str, new_user_pct: float, seed: int):
    users = ratings[user_name].unique()
    rng = np.random.default_rng(seed)
    held = set(rng.choice(users, max(1, round(len(users) * new_user_pct)), replace=False).tolist())
    is_valid = ratings[user_name].isin(held).to_numpy()
    return np.flatnonzero(~is_valid), np.flatnonzero(is_valid)


def cold_start_data(
    ml: MovieLens,
    new_user_pct: float = 0.1,
    seed: int = 42,
    bs: int = 1024,
    user_numeric: Sequence[str] = ("age",),
    user_categorical: Sequence[str] = ("gender", "occupation"),
    item_numeric: Sequence[str] = ("year",),
    valid_idx: Sequence[int] | None = None,
) -> ColdStartData:
    """Hold out `new_user_pct` of users (all their ratings) as validation: they are the "new users".

    Needs MovieLens with `users` (age, gender, occupation) and `items` (year and genre flags) tables.
    `valid_idx` (row positions of `ml.ratings`) replaces that split: those rows validate, the rest train,
    and `seed` then only orders the training batches. Empty `user_numeric` and `user_categorical` give a
    model that knows nothing about users but their ids.
    """
    if ml.users is None or ml.items is None:
        raise ValueError("cold start needs user and item metadata (u.user and u.item, or make_movielens())")
    ratings = ml.ratings.reset_index(drop=True)
    if valid_idx is not None:
        is_valid = np.zeros(len(ratings), dtype=bool)
        is_valid[np.asarray(valid_idx, dtype=np.int64)] = True
        train_idx, valid_rows = np.flatnonzero(~is_valid), np.flatnonzero(is_valid)
    else:
        if not 0 < new_user_pct < 1:
            raise ValueError(f"new_user_pct must be between 0 and 1, not {new_user_pct}")
        train_idx, valid_rows = _hold_out_users(ratings, "user", new_user_pct, seed)
    users = IdMap(ratings["user"].iloc[train_idx].unique(), "user")
    items = IdMap(ratings["item"].iloc[train_idx].unique(), "item")
    user_feats = MetadataFeaturizer(ml.users, "user", user_numeric, user_categorical)
    item_feats = MetadataFeaturizer(ml.items, "item", item_numeric, (), ml.genres or ())
    tensors = (
        torch.from_numpy(users.encode(ratings["user"])),
        torch.from_numpy(user_feats.features_of(ratings["user"].tolist(), "user")),
        torch.from_numpy(items.encode(ratings["item"])),
        torch.from_numpy(item_feats.features_of(ratings["item"].tolist(), "item")),
        torch.tensor(ratings["rating"].to_numpy(dtype=np.float32)),
    )
    tr, va = torch.from_numpy(train_idx), torch.from_numpy(valid_rows)
    generator = torch.Generator().manual_seed(seed)
    train = TensorLoader(*(t[tr] for t in tensors), batch_size=bs, shuffle=True, generator=generator)
    valid = TensorLoader(*(t[va] for t in tensors), batch_size=max(bs, 4096))
    return ColdStartData(
        ratings, users, items, user_feats, item_feats, train_idx, valid_rows, DataLoaders(train, valid)
    )


class ColdStartLearner(Learner):
    """A Learner over ColdStartData whose predict accepts unseen ids with metadata."""

    data: ColdStartData

    def predict(  # type: ignore[override]  # takes metadata for unseen ids
        self,
        user: Any,
        item: Any,
        user_meta: Mapping[str, Any] | None = None,
        item_meta: Mapping[str, Any] | None = None,
    ) -> float:
        """Rating of `item` by `user`. Metadata comes from the tables, or from `user_meta` / `item_meta` dicts
        (needed for ids the tables do not list)."""
        u_feats = self._features(self.data.user_features, user, user_meta, "user")
        i_feats = self._features(self.data.item_features, item, item_meta, "item")
        u = torch.tensor([self.data.users.encode([user])[0]])
        i = torch.tensor([self.data.items.encode([item])[0]])
        self.model.eval()
        with torch.no_grad():
            out = self.model(
                u.to(self.device), u_feats.to(self.device), i.to(self.device), i_feats.to(self.device)
            )
        return float(out[0])

    @staticmethod
    def _features(
        featurizer: MetadataFeaturizer, key: Any, meta: Mapping[str, Any] | None, kind: str
    ) -> Tensor:
        if meta is not None:
            return torch.from_numpy(featurizer.transform(pd.DataFrame([dict(meta)])))
        return torch.from_numpy(featurizer.features_of([key], kind))


def cold_start_learner(
    data: ColdStartData,
    n_factors: int = 10,
    y_range: tuple[float, float] | None = (0, 5.5),
    id_dropout: float = 0.3,
    emb_l2: float = 0.05,
    wd: float = 0.0,
    lr: float = 1e-2,
    cbs: Sequence[Callback] = (),
    **learner_kwargs: Any,
) -> ColdStartLearner:
    """A ColdStartLearner (MSE loss) over a ColdStartModel sized from the data."""
    model = ColdStartModel(
        data.user_features.n_features,
        data.item_features.n_features,
        len(data.users),
        len(data.items),
        n_factors,
        y_range,
        id_dropout,
    )
    extra = [EmbeddingL2(emb_l2)] if emb_l2 > 0 else []
    learn = ColdStartLearner(
        model,
        data.dls,
        flat_mse,
        lr=lr,
        wd=wd,
        cbs=[*extra, OneThreadForSmallSteps(), *cbs],
        **learner_kwargs,
    )
    learn.data = data
    return learn


class Rating(NamedTuple):
    value: float
    source: str  # "collab" (both ids known to the collab model) or "metadata"


class ColdStartPredictor:
    """Predict with the collab model when it knows both ids, else fall back to the metadata model."""

    def __init__(self, collab: CollabLearner, cold: ColdStartLearner) -> None:
        self.collab, self.cold = collab, cold

    def predict(
        self,
        user: Any,
        item: Any,
        user_meta: Mapping[str, Any] | None = None,
        item_meta: Mapping[str, Any] | None = None,
    ) -> Rating:
        if user in self.collab.data.users and item in self.collab.data.items:
            return Rating(self.collab.predict(user, item), "collab")
        return Rating(self.cold.predict(user, item, user_meta, item_meta), "metadata")
