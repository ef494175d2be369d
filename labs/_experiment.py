"""The shape every lab's experiment shares (the project's experiment protocol), torch-free:

- one split for the whole run (`three_way_split`): train; a tuning split any arm may use to choose its
  hyperparameters; a held-out split only the verdict sees. Seeds change initialisation and data order,
  never the split.
- every arm tuned by the same procedure and budget (`pick_best`: the same grid, scored on the tuning split).
- the held-out metric of every arm on every seed (`SeedResults`), whose paired per-seed differences go to
  `ctx.judge`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

Choice = TypeVar("Choice")

# The split (and generated data) belong to the experiment's design, fixed before any run: every run of a
# lab, whatever its --seed, holds out the same rows, so runs differ only where seeds act (initialisation
# and order) and independent runs judge the same question.
SPLIT_SEED = 0


def three_way_split(
    n: int, tune_fraction: float, holdout_fraction: float, split_seed: int = 0
) -> tuple[list[int], list[int], list[int]]:
    """Row indices (train, tune, held-out), shuffled once by `split_seed`, each part non-empty."""
    if n < 3:
        raise ValueError(f"three splits need at least 3 rows, got {n}")
    order = list(range(n))
    random.Random(split_seed).shuffle(order)
    n_holdout = min(n - 2, max(1, round(n * holdout_fraction)))
    n_tune = min(n - n_holdout - 1, max(1, round(n * tune_fraction)))
    holdout, tune, train = (
        order[:n_holdout],
        order[n_holdout : n_holdout + n_tune],
        order[n_holdout + n_tune :],
    )
    return sorted(train), sorted(tune), sorted(holdout)


def pick_best(
    grid: Sequence[Choice], score: Callable[[Choice], float], lower_is_better: bool = True
) -> tuple[Choice, dict[Choice, float]]:
    """The grid value whose `score` (measured on the tuning split) is best, and every score. A value
    whose score is not finite (a diverged fit) is never chosen unless all are."""
    scores = {value: float(score(value)) for value in grid}
    sign = 1.0 if lower_is_better else -1.0

    def key(value: Choice) -> float:
        result = scores[value]
        return sign * result if math.isfinite(result) else math.inf

    return min(grid, key=key), scores


@dataclass
class SeedResults:
    """The held-out metric of every arm on every seed, in the order the seeds ran."""

    metric: str
    higher_is_better: bool
    by_arm: dict[str, list[float]] = field(default_factory=dict)

    def add(self, arm: str, value: float) -> None:
        self.by_arm.setdefault(arm, []).append(float(value))

    def differences(self, claimed: str, rival: str) -> list[float]:
        """Per-seed paired differences, positive where `claimed` did better than `rival`."""
        sign = 1.0 if self.higher_is_better else -1.0
        return [sign * (a - b) for a, b in zip(self.by_arm[claimed], self.by_arm[rival], strict=True)]

    def rivals(self, claimed: str) -> dict[str, list[float]]:
        """`claimed` against every other arm, for `ctx.judge`."""
        return {arm: self.differences(claimed, arm) for arm in self.by_arm if arm != claimed}

    def mean(self, arm: str) -> float:
        values = self.by_arm[arm]
        return sum(values) / len(values)

    def table(self, seeds: Sequence[int]) -> tuple[list[str], list[list[str]]]:
        """Columns and rows: one row per seed, then the mean and the spread (sd) of each arm."""
        arms = list(self.by_arm)
        rows = [[str(seed), *(_cell(self.by_arm[arm][i]) for arm in arms)] for i, seed in enumerate(seeds)]
        rows.append(["mean", *(_cell(self.mean(arm)) for arm in arms)])
        if len(seeds) > 1:
            rows.append(["sd", *(_cell(_sd(self.by_arm[arm])) for arm in arms)])
        return ["seed", *arms], rows


def _sd(values: Sequence[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _cell(value: float) -> str:
    return f"{value:.4f}" if math.isfinite(value) else str(value)
