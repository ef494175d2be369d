"""Schedulers: callbacks that set optimizer hyper-parameters from pure schedule functions each step."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial

from engine.callbacks.core import Callback
from engine.optim import set_hyper
from engine.schedules import one_cycle_lr, one_cycle_mom, validate_one_cycle

Schedule = Callable[[float], float]


class ParamScheduler(Callback):
    """Before each training batch, set each hyper-parameter ("lr", "mom", "wd") of each param group to
    its schedule at pos = train_iter / (total_steps - 1), so the first step is at pos 0 and the last at 1."""

    order = 10

    def __init__(self, scheds: Mapping[str, Sequence[Schedule]], total_steps: int | None = None) -> None:
        self.scheds = {name: list(fns) for name, fns in scheds.items()}
        self.total_steps = total_steps

    def before_fit(self) -> None:
        total = self.total_steps or self.learn.n_epoch * len(self.learn.dls.train)
        self._last = max(total - 1, 1)
        n_groups = len(self.opt.param_groups)
        for name, fns in self.scheds.items():
            if len(fns) != n_groups:
                raise ValueError(f"{len(fns)} {name!r} schedules for {n_groups} param groups")

    def before_batch(self) -> None:
        if not self.learn.training:
            return
        pos = min(self.learn.train_iter / self._last, 1.0)
        opt = self.opt
        for name, fns in self.scheds.items():
            set_hyper(opt, name, [fn(pos) for fn in fns])


class OneCycle(ParamScheduler):
    """The one-cycle policy for every group (each with its own lr_max from the ladder)."""

    def __init__(
        self,
        lr_maxes: Sequence[float],
        div: float = 25.0,
        div_final: float = 1e5,
        pct_start: float = 0.25,
        moms: tuple[float, float, float] | None = (0.95, 0.85, 0.95),
    ) -> None:
        validate_one_cycle(div, div_final, pct_start)
        lr_fns: list[Schedule] = [
            partial(one_cycle_lr, lr_max=lr, div=div, div_final=div_final, pct_start=pct_start)
            for lr in lr_maxes
        ]
        scheds: dict[str, list[Schedule]] = {"lr": lr_fns}
        if moms is not None:
            scheds["mom"] = [partial(one_cycle_mom, moms=moms, pct_start=pct_start)] * len(lr_maxes)
        super().__init__(scheds)
