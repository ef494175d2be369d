"""How well predicted recall matches what happened: log loss, RMSE(bins) and calibration bins.

Plain Python, defined as FSRS' benchmark defines them so the figures compare with Anki's and the
benchmark's (open-spaced-repetition/srs-benchmark README, "Metrics"; fsrs4anki wiki "The Metric"):

- log loss: mean binary cross-entropy of the predicted recall against recalled (rating > 1) or not
  (fsrs-rs `training::weighted_binary_cross_entropy`).
- RMSE(bins): answers are grouped by interval length, number of long-term reviews and number of lapses
  (fsrs-rs `dataset.rs` `FSRSItem::r_matrix_index`); per group, the mean prediction is compared with the
  recall rate, and the squared differences are averaged weighted by group size, then rooted (fsrs-rs
  `inference.rs` `rmse_bins`).
- calibration bins: predictions grouped on fsrs-rs' scale `get_bin(p, 20)` (`inference.rs`), finer near
  100% where most predictions fall.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

_EPSILON = 1e-9  # keeps log(0) out of the loss for a prediction of exactly 0 or 1
CALIBRATION_BINS = 20


def log_loss(
    predictions: Sequence[float], recalled: Sequence[bool], weights: Sequence[float] | None = None
) -> float:
    weights = weights if weights is not None else [1.0] * len(predictions)
    total = 0.0
    for p, hit, weight in zip(predictions, recalled, weights):
        p = min(max(p, _EPSILON), 1 - _EPSILON)
        total -= weight * math.log(p if hit else 1 - p)
    return total / sum(weights) if predictions else 0.0


@functools.cache  # few distinct arguments, asked once per scored answer
def rmse_bin_key(delta_t: int, long_term: int, lapses: int) -> tuple[int, int, int]:
    """The (interval, length, lapses) group of an answer `delta_t` days after the previous one, the
    `long_term`-th answer a day or more after the one before it, after `lapses` such Again answers."""
    interval_bin = round(2.48 * 3.62 ** math.floor(math.log(delta_t, 3.62)) * 100)
    length_bin = round(1.99 * 1.89 ** math.floor(math.log(long_term + 1, 1.89)))
    lapse_bin = round(1.65 * 1.73 ** math.floor(math.log(lapses, 1.73))) if lapses else 0
    return interval_bin, length_bin, lapse_bin


def rmse_bins(
    predictions: Sequence[float],
    recalled: Sequence[bool],
    keys: Sequence[tuple[int, int, int]],
    weights: Sequence[float] | None = None,
) -> float:
    """Root of the group-size-weighted mean squared gap between mean prediction and recall rate."""
    weights = weights if weights is not None else [1.0] * len(predictions)
    groups: dict[
        tuple[int, int, int], list[float]
    ] = {}  # key -> [sum predicted, sum recalled, count, weight]
    for p, hit, key, weight in zip(predictions, recalled, keys, weights):
        group = groups.setdefault(key, [0.0, 0.0, 0.0, 0.0])
        group[0] += p
        group[1] += hit
        group[2] += 1
        group[3] += weight
    if not groups:
        return 0.0
    squared = sum(
        (pred / count - real / count) ** 2 * weight for pred, real, count, weight in groups.values()
    )
    return math.sqrt(squared / sum(group[3] for group in groups.values()))


def calibration_bin(p: float, bins: int = CALIBRATION_BINS) -> int:
    """fsrs-rs' `get_bin`: bin b holds predictions from ln(b+1)/ln(bins+1) up to ln(b+2)/ln(bins+1)."""
    return min(max(math.floor(math.exp(p * math.log(bins + 1))) - 1, 0), bins - 1)


def bin_range(index: int, bins: int = CALIBRATION_BINS) -> tuple[float, float]:
    scale = math.log(bins + 1)
    low = 0.0 if index == 0 else math.log(index + 1) / scale
    return low, math.log(index + 2) / scale


@dataclass(frozen=True)
class CalibrationBin:
    low: float  # predicted recall from
    high: float  # up to
    predicted: float  # mean predicted recall of the answers in the bin
    actual: float  # share of them recalled
    count: int


def calibration(predictions: Sequence[float], recalled: Sequence[bool]) -> list[CalibrationBin]:
    """Predicted against actual recall, one entry per non-empty bin, lowest predictions first."""
    sums: dict[int, list[float]] = {}
    for p, hit in zip(predictions, recalled):
        entry = sums.setdefault(calibration_bin(p), [0.0, 0.0, 0.0])
        entry[0] += p
        entry[1] += hit
        entry[2] += 1
    return [
        CalibrationBin(*bin_range(index), predicted=pred / count, actual=real / count, count=int(count))
        for index, (pred, real, count) in sorted(sums.items())
    ]
