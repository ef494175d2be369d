"""Optimizers, layer groups, freezing, and discriminative learning rates.

A layer group is a list of Parameters (from a splitter); each becomes one optimizer param group, so the
schedulers can give every group its own lr, weight decay and momentum.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

LayerGroups = list[list[nn.Parameter]]
OptFunc = Callable[[LayerGroups, float, float], torch.optim.Optimizer]
LrSpec = float | slice | Sequence[float]

NORM_TYPES: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._BatchNorm,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.modules.instancenorm._InstanceNorm,
)


def adamw(
    groups: LayerGroups,
    lr: float = 1e-3,
    wd: float = 1e-2,
    mom: float = 0.9,
    sqr_mom: float = 0.99,
    eps: float = 1e-5,
) -> torch.optim.Optimizer:
    """AdamW (decoupled weight decay) with one param group per layer group; "mom" is betas[0].

    Uses the fused kernel (one kernel for all params: the fastest on CPU and CUDA) and falls back to the
    foreach one where this device or torch build has no fused AdamW."""
    param_groups = [{"params": group} for group in groups]
    try:
        return torch.optim.AdamW(
            param_groups, lr=lr, betas=(mom, sqr_mom), eps=eps, weight_decay=wd, fused=True
        )
    except (RuntimeError, ValueError):
        return torch.optim.AdamW(
            [{"params": group} for group in groups],
            lr=lr,
            betas=(mom, sqr_mom),
            eps=eps,
            weight_decay=wd,
            foreach=True,
        )


def sgd(groups: LayerGroups, lr: float = 1e-2, wd: float = 0.0, mom: float = 0.9) -> torch.optim.Optimizer:
    """SGD with momentum; its weight decay is classic L2 (added to the gradient)."""
    param_groups = [{"params": group} for group in groups]
    return torch.optim.SGD(param_groups, lr=lr, momentum=mom, weight_decay=wd, foreach=True)


# ---- hyper-parameters by the lesson's names -------------------------------------------------------------


def set_hyper(opt: torch.optim.Optimizer, name: str, values: Sequence[float]) -> None:
    """Set "lr", "wd" or "mom" on each param group (values: one per group)."""
    groups = opt.param_groups
    if len(values) != len(groups):
        raise ValueError(
            f"{len(values)} values for {name!r} but the optimizer has {len(groups)} param groups"
        )
    if name == "lr":
        for group, value in zip(groups, values):
            group["lr"] = value
    elif name == "wd":
        for group, value in zip(groups, values):
            group["weight_decay"] = value
    elif name == "mom":
        for group, value in zip(groups, values):
            if "betas" in group:
                group["betas"] = (value, group["betas"][1])
            elif "momentum" in group:
                group["momentum"] = value
    else:
        raise ValueError(f"unknown hyper-parameter {name!r}: use 'lr', 'wd' or 'mom'")


def lr_ladder(lr: LrSpec, n_groups: int) -> list[float]:
    """Per-group learning rates from the lesson's notations.

    - a float: the same lr for every group;
    - ``slice(hi)``: hi/10 for every group but the last, hi for the last;
    - ``slice(lo, hi)``: a geometric ladder from lo (first group) to hi (last group);
    - a sequence of floats: one per group, as given.
    """
    if n_groups < 1:
        raise ValueError("need at least one layer group")
    if isinstance(lr, slice):
        if lr.step is not None:
            raise ValueError(f"lr slice takes no step: {lr}")
        hi = lr.stop
        if hi is None or hi <= 0:
            raise ValueError(f"lr slice needs a positive stop (the last group's lr), got {lr}")
        if lr.start is None:
            return [hi / 10] * (n_groups - 1) + [hi]
        lo = lr.start
        if lo <= 0:
            raise ValueError(f"lr slice start must be positive, got {lr}")
        if n_groups == 1:
            return [hi]
        # Compute each rung down from hi so a ratio-r ladder gives exactly hi / r**k.
        ratio = (hi / lo) ** (1 / (n_groups - 1))
        return [hi / ratio ** (n_groups - 1 - i) for i in range(n_groups)]
    if isinstance(lr, int | float):
        if not math.isfinite(lr) or lr <= 0:
            raise ValueError(f"lr must be a positive number, got {lr}")
        return [float(lr)] * n_groups
    values = [float(v) for v in lr]
    if len(values) != n_groups:
        raise ValueError(f"{len(values)} learning rates given for {n_groups} layer groups")
    return values


# ---- layer groups and freezing --------------------------------------------------------------------------


def check_layer_groups(model: nn.Module, groups: Sequence[Sequence[nn.Parameter]]) -> LayerGroups:
    """Validate a splitter's output: no parameter twice, every trainable parameter in some group."""
    checked = [list(g) for g in groups]
    if not checked or any(len(g) == 0 for g in checked):
        raise ValueError("the splitter must return a non-empty list of non-empty parameter lists")
    seen: set[int] = set()
    for i, group in enumerate(checked):
        for p in group:
            if id(p) in seen:
                raise ValueError(
                    f"the splitter puts a parameter of shape {tuple(p.shape)} in two groups (again in {i})"
                )
            seen.add(id(p))
    missing = [name for name, p in model.named_parameters() if p.requires_grad and id(p) not in seen]
    if missing:
        raise ValueError(f"the splitter leaves trainable parameters out of every group: {missing[:5]}")
    return checked


def norm_param_ids(model: nn.Module) -> set[int]:
    return {id(p) for m in model.modules() if isinstance(m, NORM_TYPES) for p in m.parameters(recurse=False)}


def freeze_groups(groups: LayerGroups, n: int, norm_ids: set[int] = frozenset()) -> int:  # type: ignore[assignment]
    """Make only groups [n:] trainable (plus the params in `norm_ids`, e.g. batchnorm). Returns n >= 0."""
    count = len(groups)
    if not -count <= n <= count:
        raise ValueError(f"freeze_to({n}) is out of range for {count} layer groups")
    n = n % count if n < 0 else n
    for i, group in enumerate(groups):
        trainable = i >= n
        for p in group:
            p.requires_grad_(trainable or id(p) in norm_ids)
    return n
