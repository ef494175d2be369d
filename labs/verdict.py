"""A lab's verdict: does this run agree with its card's claim, by more than the noise between runs?

Torch-free plain data, so the lab screen, `cardlab lab run|show` and saved runs read it alike:

    {"claim": "<the card's claim>", "agrees": true | false | null, "effect": 0.031, "noise": 0.012}

`effect` is the measured difference in the claim's favour (positive: the claim holds). `noise` is the
standard error of that difference, computed from what the run measured: over seeds when several were
run (the spread of the per-seed effects / sqrt(n)), else from the validation set (the paired standard
error of the per-example differences). A difference no larger than its noise is `null`, inconclusive,
never a win.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Verdict:
    claim: str
    agrees: bool | None
    effect: float
    noise: float

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @property
    def word(self) -> str:
        return {True: "agrees", False: "disagrees", None: "inconclusive"}[self.agrees]


def judge(claim: str, effect: float, noise: float) -> Verdict:
    """`effect` > 0 supports the claim; within `noise` of zero is inconclusive."""
    effect, noise = float(effect), abs(float(noise))
    if not math.isfinite(effect) or not math.isfinite(noise) or abs(effect) <= noise:
        agrees = None
    else:
        agrees = effect > 0
    return Verdict(claim=claim, agrees=agrees, effect=round(effect, 6), noise=round(noise, 6))


def standard_error(values: Sequence[float]) -> float:
    """Standard error of the mean of `values` (sample std / sqrt(n)); infinite for fewer than two."""
    n = len(values)
    if n < 2:
        return math.inf
    mean = sum(values) / n
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    return math.sqrt(variance / n)


def paired_noise(first: Sequence[float], second: Sequence[float]) -> float:
    """Standard error of mean(first) - mean(second) when both were measured on the same examples
    (per-example losses, or 1.0/0.0 for correct/wrong): the validation set's own noise."""
    if len(first) != len(second):
        raise ValueError(f"paired samples differ in length: {len(first)} and {len(second)}")
    return standard_error([a - b for a, b in zip(first, second)])


def outcome_for(verdict: Verdict, if_agrees: str, if_disagrees: str) -> str | None:
    """The question's choice this run supports, or None when it is inconclusive."""
    if verdict.agrees is None:
        return None
    return if_agrees if verdict.agrees else if_disagrees
