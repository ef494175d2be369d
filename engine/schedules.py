"""Pure schedule functions of a position `pos` in [0, 1] through training (no torch, no state)."""

from __future__ import annotations

import math


def cos_anneal(start: float, end: float, pos: float) -> float:
    """Cosine from `start` (pos=0) to `end` (pos=1), flat at both ends."""
    return start + (1 - math.cos(math.pi * pos)) * (end - start) / 2


def exp_anneal(start: float, end: float, pos: float) -> float:
    """Exponential (geometric) interpolation from `start` to `end`: the lr finder's sweep."""
    return start * (end / start) ** pos


def _two_phase(
    first: tuple[float, float], second: tuple[float, float], pct_start: float, pos: float
) -> float:
    if pos < pct_start:
        return cos_anneal(*first, pos / pct_start)
    if pct_start >= 1:
        return first[1]
    return cos_anneal(*second, (pos - pct_start) / (1 - pct_start))


def one_cycle_lr(
    pos: float, lr_max: float, div: float = 25.0, div_final: float = 1e5, pct_start: float = 0.25
) -> float:
    """One-cycle learning rate: cosine warm-up lr_max/div -> lr_max over [0, pct_start], then cosine
    anneal lr_max -> lr_max/div_final over [pct_start, 1]."""
    return _two_phase((lr_max / div, lr_max), (lr_max, lr_max / div_final), pct_start, pos)


def one_cycle_mom(
    pos: float, moms: tuple[float, float, float] = (0.95, 0.85, 0.95), pct_start: float = 0.25
) -> float:
    """One-cycle momentum (beta1), the inverse of the lr: moms[0] -> moms[1] while the lr warms up,
    then moms[1] -> moms[2] while it anneals."""
    return _two_phase((moms[0], moms[1]), (moms[1], moms[2]), pct_start, pos)


def validate_one_cycle(div: float, div_final: float, pct_start: float) -> None:
    if div <= 0 or div_final <= 0:
        raise ValueError(f"div and div_final must be positive, got div={div}, div_final={div_final}")
    if not 0 <= pct_start <= 1:
        raise ValueError(f"pct_start must be in [0, 1], got {pct_start}")
