"""Metrics, accumulated over batches weighted by batch size.

A metric is a `Metric`: `batch_value(pred, targ, loss)` gives a batch's mean of some quantity, the Recorder
averages those over the validation set (weighted by batch size), and `finalize` turns the average into the
reported number (identity for accuracy, exp for perplexity, sqrt for rmse). A plain function
`f(pred, targ) -> Tensor` passed in `metrics=` is wrapped as an averaged metric named after the function.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

# From this many classes on, accuracy finds the hits without argmax: on a language model's [32, 72, 6568]
# bf16 logits argmax took 56 ms at 1 thread, more than the decoder's product; _argmax_hits 9.5 ms.
_WIDE = 256


def accuracy(pred: Tensor, targ: Tensor) -> Tensor:
    """Fraction of rows whose argmax over the last dim equals the target (any leading shape)."""
    hits = _argmax_hits(pred, targ) if _class_indices(pred, targ) else pred.argmax(dim=-1) == targ
    return hits.float().mean()


def _class_indices(pred: Tensor, targ: Tensor) -> bool:
    """Targets `_argmax_hits` can take: one valid class index for each row of a wide `pred`."""
    if pred.size(-1) < _WIDE or targ.shape != pred.shape[:-1] or targ.is_floating_point():
        return False
    return bool(((targ >= 0) & (targ < pred.size(-1))).all())


def _argmax_hits(pred: Tensor, targ: Tensor) -> Tensor:
    """`pred.argmax(-1) == targ`, from a max-only pass: only rows whose target holds the maximum then need
    the index of their first maximum (max's indices, like argmax's, are the first of equal maxima)."""
    best = pred.amax(dim=-1, keepdim=True)
    hits = (pred.gather(-1, targ.unsqueeze(-1)) == best).squeeze(-1)
    rows = hits.nonzero(as_tuple=True)
    hits[rows] = pred[rows].max(dim=-1).indices == targ[rows]
    return hits


def error_rate(pred: Tensor, targ: Tensor) -> Tensor:
    return 1 - accuracy(pred, targ)


def mse(pred: Tensor, targ: Tensor) -> Tensor:
    return F.mse_loss(pred.reshape(targ.shape).float(), targ.float())


class Metric:
    """An averaged quantity with a final transform; stateless, so one instance can serve many learners."""

    def __init__(
        self,
        name: str,
        batch_value: Callable[[Tensor, Tensor, Tensor], Tensor],
        finalize: Callable[[float], float] = float,
    ) -> None:
        self.name = name
        self.batch_value = batch_value
        self.finalize = finalize

    def __repr__(self) -> str:
        return f"Metric({self.name})"


def as_metric(metric: Metric | Callable[[Tensor, Tensor], Tensor]) -> Metric:
    if isinstance(metric, Metric):
        return metric
    if not callable(metric):
        raise TypeError(f"a metric must be a Metric or a function (pred, targ) -> Tensor, got {metric!r}")
    name = getattr(metric, "__name__", type(metric).__name__)
    return Metric(name, lambda pred, targ, loss: metric(pred, targ))


def _exp_rmspe_sq(pred: Tensor, targ: Tensor) -> Tensor:
    pred, targ = torch.exp(pred.reshape(targ.shape).float()), torch.exp(targ.float())
    return (((targ - pred) / targ) ** 2).mean()


def _exp_or_inf(loss: float) -> float:
    """exp, infinite past float range: a diverged language model's loss is a result, not a crash."""
    return math.exp(loss) if loss < 709 else math.inf


perplexity = Metric("perplexity", lambda pred, targ, loss: loss, _exp_or_inf)
"""exp of the mean cross-entropy loss over the whole set (so the learner's loss must be cross-entropy)."""

rmse = Metric("rmse", lambda pred, targ, loss: mse(pred, targ), math.sqrt)
"""Root mean squared error over the whole set."""

exp_rmspe = Metric("exp_rmspe", lambda pred, targ, loss: _exp_rmspe_sq(pred, targ), math.sqrt)
"""Root mean squared percentage error for models predicting log(target) (the Rossmann metric)."""


def metric_list(metrics: Any) -> list[Any]:
    """The lesson writes `metrics=accuracy`; a single metric or a list both work."""
    if metrics is None:
        return []
    if callable(metrics) or not isinstance(metrics, Iterable):
        return [metrics]
    return list(metrics)
