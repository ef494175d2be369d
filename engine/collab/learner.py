"""collab_learner: rating prediction, recommendations and interpretation of learned factors.

    data = collab_data(ratings, valid_pct=0.1, seed=42, bs=64, titles=ml.titles())
    learn = collab_learner(data, n_factors=40, y_range=(0, 5.5), wd=0.1)
    learn.fit_one_cycle(5, 5e-3)                     # the lesson's recipe (bs 64)
    learn.predict(196, 242)                          # one rating, a float inside y_range
    learn.recommend(196, k=10)                       # DataFrame: item, title, predicted (unrated items only)
    best, worst = learn.item_bias(n=15, top=1000)    # items whose bias is highest / lowest
    learn.item_pca(n_components=3, top=1000)         # DataFrame: item, title, pc1..pc3
    learn.bias([1, 2], is_item=True); learn.weight([1, 2], is_item=True)

Unknown ids raise `UnknownIdError` (a ValueError with a readable message), never a KeyError.

Fast recipe (`FAST_RECIPE`): decoupled weight decay shrinks every embedding on every step, so its effect
depends on the number of steps. With big batches and few steps we instead add an L2 penalty on the rows a
batch uses (`EmbeddingL2`, the classic matrix-factorisation regulariser, scaled per rating), which regularises
each factor in proportion to how often it is seen: `collab_learner(data, wd=0.0, emb_l2=0.1)` with batches of
1,024 and `fit_one_cycle(5, 2e-2)`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, cast

import pandas as pd
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from engine.callbacks.core import Callback
from engine.callbacks.threads import OneThreadForSmallSteps
from engine.collab.data import CollabData, IdMap, UnknownIdError
from engine.collab.models import EmbeddingDotBias, EmbeddingNN
from engine.learner import Learner
from engine.metrics import Metric, metric_list

LESSON_RECIPE = {"bs": 64, "epochs": 5, "lr": 5e-3, "wd": 0.1, "emb_l2": 0.0}
FAST_RECIPE = {"bs": 1024, "epochs": 5, "lr": 2e-2, "wd": 0.0, "emb_l2": 0.1}  # for ~90k training ratings


def fast_recipe(n_train: int) -> dict[str, float]:
    """FAST_RECIPE with the batch size scaled to the data: about 40+ steps per epoch, bs a power of two in
    64..1024, lr scaled with sqrt(bs). ML-100k (90k training ratings) gets FAST_RECIPE itself; fastai's
    ML_SAMPLE (5.4k) gets bs 128, lr 7e-3."""
    bs = int(min(1024, max(64, 2 ** math.floor(math.log2(max(n_train, 1) / 40)))))
    return {**FAST_RECIPE, "bs": bs, "lr": round(FAST_RECIPE["lr"] * math.sqrt(bs / 1024), 4)}


def flat_mse(pred: Tensor, targ: Tensor) -> Tensor:
    """Mean squared error between a [bs] prediction and a [bs] target."""
    return F.mse_loss(pred.reshape(targ.shape), targ)


class _SquaredNorm(torch.autograd.Function):
    """The sum of squares of all given tensors as one autograd node, in place of 8 (`pow`, `sum` per
    tensor): with its backward 160 us against 220 us for a fast-recipe batch (torch 2.13, one thread)."""

    @staticmethod
    def forward(ctx: Any, *tensors: Tensor) -> Tensor:
        ctx.save_for_backward(*tensors)
        flat = [t.reshape(-1) for t in tensors]
        return torch.stack([torch.dot(f, f) for f in flat]).sum()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, ...]:
        twice = 2 * grad
        return tuple(t * twice for t in ctx.saved_tensors)


def squared_norm(tensors: Sequence[Tensor]) -> Tensor:
    """sum(t.pow(2).sum() for t in tensors), cheaper to differentiate."""
    return cast(Tensor, _SquaredNorm.apply(*tensors))


class EmbeddingL2(Callback):
    """Adds `coef * mean over the batch of the squared norms of the embedding rows it used` to the loss.

    Works with any model that has `embeddings_used(*xb) -> list[Tensor]` (EmbeddingDotBias, EmbeddingNN).
    Only while training, so validation losses stay plain MSE.
    """

    order = 5

    def __init__(self, coef: float) -> None:
        if coef < 0:
            raise ValueError(f"EmbeddingL2 coef must be >= 0, not {coef}")
        self.coef = coef

    @property
    def model(self) -> EmbeddingDotBias | EmbeddingNN:
        return cast(EmbeddingDotBias | EmbeddingNN, self.learn.model)

    def before_fit(self) -> None:
        self.model.keep_rows = True

    def after_fit(self) -> None:
        self.model.keep_rows = False
        self.model._last = None

    def after_loss(self) -> None:
        if not self.learn.training or self.coef == 0:
            return
        rows = self.model.embeddings_used(*self.learn.xb)
        penalty = squared_norm(rows) / self.learn.batch_size
        self.learn.loss = self.learn.loss + self.coef * penalty


class ItemBiases(NamedTuple):
    best: pd.DataFrame  # item, title, bias, mean_rating, n_ratings; highest bias first
    worst: pd.DataFrame  # lowest bias first


class CollabLearner(Learner):
    """A Learner over CollabData with rating predictions, recommendations and interpretation helpers."""

    data: CollabData
    model: EmbeddingDotBias | EmbeddingNN

    # ---- predictions --------------------------------------------------------------------------------

    def predict(self, user: Any, item: Any) -> float:  # type: ignore[override]
        """The predicted rating of `item` by `user` (original ids). Unknown ids raise UnknownIdError."""
        u = self.data.users.index_of(user)
        i = self.data.items.index_of(item)
        return float(self._scores(torch.tensor([u]), torch.tensor([i]))[0])

    def predict_many(self, users: Sequence[Any], items: Sequence[Any]) -> Tensor:
        """Ratings for aligned lists of ids (all must be known)."""
        if len(users) != len(items):
            raise ValueError(f"{len(users)} users but {len(items)} items: give one item per user")
        u = torch.tensor([self.data.users.index_of(x) for x in users], dtype=torch.long)
        i = torch.tensor([self.data.items.index_of(x) for x in items], dtype=torch.long)
        return self._scores(u, i)

    def _scores(self, users: Tensor, items: Tensor) -> Tensor:
        self.model.eval()
        with torch.no_grad():
            return self.model(users.to(self.device), items.to(self.device)).float().cpu()

    def recommend(self, user: Any, k: int = 10, exclude_rated: bool = True) -> pd.DataFrame:
        """The `k` items with the highest predicted rating that `user` has not rated (in the data given)."""
        u = self.data.users.index_of(user)
        candidates = torch.arange(1, self.data.n_items)  # index 0 is #na#
        if exclude_rated:
            rated = self.data.rated.get(u, set())
            candidates = candidates[~torch.isin(candidates, torch.tensor(sorted(rated), dtype=torch.long))]
        scores = self._scores(torch.full_like(candidates, u), candidates)
        top = torch.topk(scores, min(k, len(candidates)))
        items = self.data.items.decode(candidates[top.indices])
        titles = [self.data.title(i) for i in items]
        return pd.DataFrame({"item": items, "title": titles, "predicted": top.values.numpy()})

    # ---- interpretation -----------------------------------------------------------------------------

    def _id_map(self, is_item: bool) -> IdMap:
        return self.data.items if is_item else self.data.users

    def _indices(self, ids: Iterable[Any], is_item: bool) -> Tensor:
        id_map = self._id_map(is_item)
        return torch.tensor([id_map.index_of(x) for x in ids], dtype=torch.long)

    def bias(self, ids: Iterable[Any], is_item: bool = True) -> Tensor:
        """Learned biases of these users or items (EmbeddingDotBias only)."""
        if not isinstance(self.model, EmbeddingDotBias):
            raise ValueError("bias() needs an EmbeddingDotBias model (EmbeddingNN has no biases)")
        table = self.model.i_bias if is_item else self.model.u_bias
        return table.weight.detach().cpu()[self._indices(ids, is_item)].squeeze(1)

    def weight(self, ids: Iterable[Any], is_item: bool = True) -> Tensor:
        """Learned factor vectors of these users or items."""
        table = self.model.i_weight if is_item else self.model.u_weight
        return table.weight.detach().cpu()[self._indices(ids, is_item)]

    def most_rated(self, top: int = 1000) -> list[Any]:
        """The `top` known items with the most ratings (the lesson restricts interpretation to these)."""
        counts = self.data.ratings[self.data.item_name].value_counts()
        known = [item for item in counts.index if item in self.data.items]
        return known[:top]

    def item_bias(self, n: int = 15, top: int = 1000) -> ItemBiases:
        """The `n` best and worst items by learned bias, among the `top` most rated.

        The bias says how much an item is liked *after* accounting for who rated it and what kind of item it
        is, which is why it can disagree with the raw mean rating.
        """
        items = self.most_rated(top)
        ratings = self.data.ratings.groupby(self.data.item_name)[self.data.rating_name].agg(["mean", "size"])
        table = pd.DataFrame(
            {
                "item": items,
                "title": [self.data.title(i) for i in items],
                "bias": self.bias(items, is_item=True).numpy(),
                "mean_rating": ratings.loc[items, "mean"].to_numpy(),
                "n_ratings": ratings.loc[items, "size"].to_numpy(),
            }
        )
        ordered = table.sort_values("bias", ascending=False).reset_index(drop=True)
        return ItemBiases(ordered.head(n), ordered.iloc[::-1].head(n).reset_index(drop=True))

    def item_pca(self, n_components: int = 3, top: int = 1000) -> pd.DataFrame:
        """Item factors of the `top` most rated items projected on their first principal components.

        Columns: item, title, pc1..pcN; `.attrs["explained_variance_ratio"]` gives each component's share.
        """
        items = self.most_rated(top)
        factors = self.weight(items, is_item=True)
        if n_components > min(factors.shape):
            raise ValueError(
                f"n_components={n_components} exceeds the factor matrix shape {tuple(factors.shape)}"
            )
        centered = factors - factors.mean(dim=0)
        _, singular, vt = torch.linalg.svd(centered, full_matrices=False)
        projected = centered @ vt[:n_components].T
        frame = pd.DataFrame({"item": items, "title": [self.data.title(i) for i in items]})
        for c in range(n_components):
            frame[f"pc{c + 1}"] = projected[:, c].numpy()
        variance = singular**2
        frame.attrs["explained_variance_ratio"] = (variance[:n_components] / variance.sum()).tolist()
        return frame


def collab_learner(
    data: CollabData,
    n_factors: int = 40,
    y_range: tuple[float, float] | None = (0, 5.5),
    use_nn: bool = False,
    layers: Sequence[int] = (64,),
    ps: float = 0.0,
    wd: float = 0.1,
    emb_l2: float = 0.0,
    metrics: Metric | Any | Iterable[Metric | Any] = (),
    lr: float = 5e-3,
    cbs: Iterable[Callback] = (),
    **learner_kwargs: Any,
) -> CollabLearner:
    """A CollabLearner with an EmbeddingDotBias (or, `use_nn=True`, an EmbeddingNN) model and MSE loss.

    wd: decoupled weight decay (the lesson's 0.1). emb_l2: L2 penalty on the embedding rows each batch
    uses (see EmbeddingL2); the fast recipe uses `wd=0.0, emb_l2=0.1`. Other keywords go to Learner.
    """
    if not isinstance(data, CollabData):
        raise TypeError(f"collab_learner needs CollabData (from collab_data(...)), not {type(data).__name__}")
    model: nn.Module
    if use_nn:
        model = EmbeddingNN(data.n_users, data.n_items, n_factors, n_factors, layers, ps, y_range)
    else:
        model = EmbeddingDotBias(data.n_users, data.n_items, n_factors, y_range)
    extra = [EmbeddingL2(emb_l2)] if emb_l2 > 0 else []
    learn = CollabLearner(
        model,
        data.dls,
        flat_mse,
        lr=lr,
        wd=wd,
        metrics=metric_list(metrics),
        cbs=[*extra, OneThreadForSmallSteps(), *cbs],
        **learner_kwargs,
    )
    learn.data = data
    return learn


__all__ = [
    "FAST_RECIPE",
    "fast_recipe",
    "LESSON_RECIPE",
    "CollabLearner",
    "EmbeddingL2",
    "ItemBiases",
    "UnknownIdError",
    "collab_learner",
    "flat_mse",
]
