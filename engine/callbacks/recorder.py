"""Recorder: per-batch losses, smoothed loss, lrs and moms; per-epoch rows with valid loss and metrics."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from engine.callbacks.core import Callback
from engine.metrics import Metric, as_metric


class Recorder(Callback):
    """Always attached as `learn.recorder`; resets at every fit.

    - `losses`, `smooth_losses` (debiased EMA, beta 0.98), `lrs`, `moms`: one entry per training step; the
      lr and mom are those of the last layer group;
    - `rows`: one dict per epoch: epoch, train_loss (mean over the epoch, weighted by batch size),
      valid_loss, each metric, time (seconds); `columns` gives their keys in order;
    - `last_valid`: {"valid_loss", metrics...} of the latest validation pass.
    """

    order = 50

    def __init__(
        self, metrics: Iterable[Metric | Callable[[Tensor, Tensor], Tensor]] = (), beta: float = 0.98
    ) -> None:
        self.metrics = [as_metric(m) for m in metrics]
        self.beta = beta
        self.losses: list[float] = []
        self.smooth_losses: list[float] = []
        self.lrs: list[float] = []
        self.moms: list[float] = []
        self.rows: list[dict[str, Any]] = []
        self.last_valid: dict[str, float] = {}
        self._ema = 0.0
        self._train_sum, self._train_count = 0.0, 0
        self._valid_sum, self._valid_count = 0.0, 0
        self._metric_sums: list[Tensor | float] = []
        self._epoch_start = 0.0

    @property
    def columns(self) -> list[str]:
        return ["epoch", "train_loss", "valid_loss", *(m.name for m in self.metrics), "time"]

    @property
    def smooth_loss(self) -> float:
        return self.smooth_losses[-1] if self.smooth_losses else float("nan")

    def before_fit(self) -> None:
        self.losses, self.smooth_losses, self.lrs, self.moms, self.rows = [], [], [], [], []
        self._ema = 0.0
        group = self.opt.param_groups[-1]
        self._mom_key = "betas" if "betas" in group else ("momentum" if "momentum" in group else None)

    def before_epoch(self) -> None:
        self._epoch_start = time.perf_counter()
        self._train_sum, self._train_count = 0.0, 0
        self.last_valid = {}

    def before_validate(self) -> None:
        self._valid_sum, self._valid_count = 0.0, 0
        self._metric_sums = [0.0] * len(self.metrics)

    def after_batch(self) -> None:
        learn = self.learn
        value, bs = learn.loss_value, learn.batch_size
        if learn.training:
            self._record_step(value, bs)
            return
        self._valid_sum += value * bs
        self._valid_count += bs
        pred, targ, loss = learn.pred, learn.yb, learn.loss
        for i, metric in enumerate(self.metrics):
            self._metric_sums[i] = (
                self._metric_sums[i] + metric.batch_value(pred, targ, loss).detach().float() * bs
            )

    def _record_step(self, value: float, bs: int) -> None:
        self.losses.append(value)
        self._ema = self.beta * self._ema + (1 - self.beta) * value
        self.smooth_losses.append(self._ema / (1 - self.beta ** len(self.losses)))
        self._train_sum += value * bs
        self._train_count += bs
        group = self.opt.param_groups[-1]
        self.lrs.append(group["lr"])
        key = self._mom_key
        self.moms.append(group["betas"][0] if key == "betas" else group[key] if key else 0.0)

    def reduce_valid(self, reduce_sum: Callable[[list[float]], list[float]]) -> None:
        """Replace this pass's loss and metric totals by their sums over every process (DistributedTrainer
        calls it before `after_validate`), so the averages are over the whole validation set."""
        metric_sums = [float(t.item() if isinstance(t, Tensor) else t) for t in self._metric_sums]
        totals = reduce_sum([self._valid_sum, float(self._valid_count), *metric_sums])
        self._valid_sum, self._valid_count = totals[0], int(round(totals[1]))
        self._metric_sums = list(totals[2:])

    def after_validate(self) -> None:
        count = self._valid_count
        if count == 0:
            self.last_valid = {"valid_loss": float("nan"), **{m.name: float("nan") for m in self.metrics}}
            return
        self.last_valid = {"valid_loss": self._valid_sum / count}
        for metric, total in zip(self.metrics, self._metric_sums):
            mean = float(total.item() if isinstance(total, torch.Tensor) else total) / count
            self.last_valid[metric.name] = metric.finalize(mean)

    def after_epoch(self) -> None:
        train_loss = self._train_sum / self._train_count if self._train_count else float("nan")
        row: dict[str, Any] = {"epoch": self.learn.epoch, "train_loss": train_loss, "valid_loss": None}
        row.update({m.name: None for m in self.metrics})
        row.update(self.last_valid)
        row["time"] = time.perf_counter() - self._epoch_start
        self.rows.append(row)
