"""The learning-rate finder: an exponential lr sweep recording the smoothed loss, then suggestions.

Suggestions, computed on the recorded (lr, smoothed loss) points after the first 10% (where the smoothed
loss is still mostly noise):
- ``minimum``: the lr at the lowest smoothed loss, divided by 10 (a safe step back from the edge);
- ``steep``: the lr where the smoothed loss falls fastest (most negative d loss / d log lr, as a central
  difference over +-5% of the points, so batch noise on the flat start does not win);
- ``valley``: the longest run of decreasing losses (a longest decreasing subsequence, fastai-style)
  among the points up to the lowest loss, and the point two thirds of the way down it: past the
  plateau, before the bottom. (Searched over the whole curve, a long noisy run after the lowest point
  could put the suggestion past it, where the loss is already rising.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.callbacks.core import Callback, CancelFitException, CancelValidException
from engine.optim import set_hyper
from engine.schedules import exp_anneal


@dataclass(frozen=True)
class LRFindResult:
    lrs: list[float]
    losses: list[float]  # smoothed (debiased EMA, beta 0.98)
    valley: float
    steep: float
    minimum: float


class LRFinder(Callback):
    """Set the same lr on every group, sweeping start_lr -> end_lr geometrically over num_it steps; stop
    early when the smoothed loss exceeds 4x its minimum (stop_div) or goes non-finite."""

    order = -10  # before NaNGuard: a diverging sweep is a result here, not an error

    def __init__(
        self,
        start_lr: float = 1e-7,
        end_lr: float = 10,
        num_it: int = 100,
        stop_div: bool = True,
        beta: float = 0.98,
    ) -> None:
        if not 0 < start_lr < end_lr:
            raise ValueError(f"need 0 < start_lr < end_lr, got {start_lr}, {end_lr}")
        if num_it < 2:
            raise ValueError(f"num_it must be >= 2, got {num_it}")
        self.start_lr, self.end_lr, self.num_it, self.stop_div, self.beta = (
            start_lr,
            end_lr,
            num_it,
            stop_div,
            beta,
        )
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.stopped_itself = False  # True when the sweep ended by its own rule (divergence or num_it)

    def before_fit(self) -> None:
        self.lrs, self.losses, self._ema, self._best = [], [], 0.0, math.inf
        self.stopped_itself = False

    def _stop(self) -> None:
        self.stopped_itself = True
        raise CancelFitException()

    def before_batch(self) -> None:
        if self.learn.training:
            lr = exp_anneal(self.start_lr, self.end_lr, self.learn.train_iter / (self.num_it - 1))
            set_hyper(self.opt, "lr", [lr] * len(self.opt.param_groups))

    def before_backward(self) -> None:
        if not math.isfinite(self.learn.loss_value):
            self._stop()

    def after_batch(self) -> None:
        learn = self.learn
        if not learn.training:
            return
        self._ema = self.beta * self._ema + (1 - self.beta) * learn.loss_value
        smooth = self._ema / (1 - self.beta ** (len(self.losses) + 1))
        self.lrs.append(self.opt.param_groups[-1]["lr"])
        self.losses.append(smooth)
        self._best = min(self._best, smooth)
        if self.stop_div and (smooth > 4 * self._best or not math.isfinite(smooth)):
            self._stop()
        if len(self.losses) >= self.num_it:
            self._stop()

    def before_validate(self) -> None:
        raise CancelValidException()


def suggest(lrs: list[float], losses: list[float]) -> tuple[float, float, float]:
    """(valley, steep, minimum) for recorded points; see the module docstring."""
    skip = len(lrs) // 10
    finite = [(lr, loss) for lr, loss in zip(lrs[skip:], losses[skip:]) if math.isfinite(loss)]
    if not finite:
        raise ValueError("lr_find recorded no finite loss; lower start_lr")
    lr_arr = np.array([p[0] for p in finite])
    loss_arr = np.array([p[1] for p in finite])
    minimum = float(lr_arr[loss_arr.argmin()] / 10)
    if len(finite) < 3:
        return minimum, minimum, minimum
    steep = float(lr_arr[_steepest(loss_arr, np.log(lr_arr))])
    lowest = int(loss_arr.argmin())
    start, end = _longest_descent(loss_arr[: lowest + 1])
    valley = float(lr_arr[start + round(2 * (end - start) / 3)])
    return valley, steep, minimum


def _steepest(losses: np.ndarray, log_lrs: np.ndarray) -> int:
    """Index of the most negative slope, each slope a central difference over +-k points."""
    k = max(1, len(losses) // 20)
    idx = np.arange(len(losses))
    lo, hi = np.clip(idx - k, 0, len(losses) - 1), np.clip(idx + k, 0, len(losses) - 1)
    slopes = (losses[hi] - losses[lo]) / (log_lrs[hi] - log_lrs[lo])
    return int(slopes.argmin())


def _longest_descent(losses: np.ndarray) -> tuple[int, int]:
    """First and last index of the longest strictly decreasing subsequence (O(n^2), n is ~100)."""
    n = len(losses)
    length = [1] * n
    first = list(range(n))
    for i in range(n):
        for j in range(i):
            if losses[j] > losses[i] and length[j] + 1 > length[i]:
                length[i], first[i] = length[j] + 1, first[j]
    end = int(np.argmax(length))
    return first[end], end
