"""The Learner: a small training loop that fires events; everything else is a callback.

A batch is a tuple of tensors whose last element is the target: ``pred = model(*batch[:-1])``,
``loss = loss_func(pred, batch[-1])``. Callbacks read and modify the loop's state on the learner:
``batch`` (assign a new tuple to change the inputs or target), ``xb`` (= ``batch[:-1]``, a tuple),
``yb`` (= ``batch[-1]``, the target itself, not a tuple), ``pred``, ``loss`` (what backward uses; an
after_loss callback may add terms), ``loss_value`` (its float, computed once per batch), ``batch_size``,
``training``, ``epoch``, ``n_epoch``, ``iter``, ``n_iter``, ``train_iter`` (global training step in this fit),
``dl``, ``opt``, ``model``, ``recorder``, ``in_fit``, ``cancelled``.

Stopping: a Cancel<Level>Exception ends that level (batch, train, validate, epoch, fit) and fires
``after_cancel_<level>`` in place of ``after_<level>``; a CancelFitException (e.g. from a CancelToken) ends
``fit`` normally with ``cancelled = True``, after_cancel_fit and then after_fit; any other exception (e.g. TrainingDiverged) propagates after ``after_fit`` has run, and is kept in
``fit_error`` for callbacks to report.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from engine.callbacks.core import (
    CANCEL_EVENTS,
    EVENTS,
    Callback,
    CancelBatchException,
    CancelEpochException,
    CancelFitException,
    CancelTrainException,
    CancelValidException,
)
from engine.callbacks.device import DeviceCallback
from engine.callbacks.distributed import distributed_context, distributed_trainer_if_launched
from engine.callbacks.guards import CancelOnToken, NaNGuard
from engine.callbacks.lr_finder import LRFinder, LRFindResult, suggest
from engine.callbacks.mixed_precision import MixedPrecision
from engine.callbacks.recorder import Recorder
from engine.callbacks.schedule import OneCycle
from engine.data import DataLoaders
from engine.distributed import write_on_main
from engine.metrics import Metric, metric_list
from engine.optim import (
    LrSpec,
    OptFunc,
    OptimizerLike,
    adamw,
    check_layer_groups,
    freeze_groups,
    lr_ladder,
    norm_param_ids,
    set_hyper,
)
from engine.utils import CancelToken, pick_device

Splitter = Callable[[Any], Sequence[Sequence[nn.Parameter]]]  # takes the learner's model
CallbackLike = Callback | CancelToken


def all_params_splitter(model: nn.Module) -> list[list[nn.Parameter]]:
    """The default: a single layer group holding every parameter."""
    return [list(model.parameters())]


class Learner:
    """Model + data + loss + optimizer, trained by `fit` / `fit_one_cycle`.

    Always attached: DeviceCallback (model and batches on `device`), NaNGuard (TrainingDiverged on a NaN/inf
    training loss), Recorder (`learn.recorder`); MixedPrecision when `mixed_precision` is set. `lr` is a float,
    ``slice(hi)``, ``slice(lo, hi)`` or one value per layer group (see engine.optim.lr_ladder). The optimizer
    is built at the first fit, one param group per layer group from `splitter`, and rebuilt (fresh state)
    after freeze_to / freeze / unfreeze. Under torchrun (WORLD_SIZE > 1) a DistributedTrainer is attached too
    (see engine.callbacks.distributed), and `with learn.distributed():` trains data-parallel explicitly.
    """

    def __init__(
        self,
        model: nn.Module,
        dls: DataLoaders,
        loss_func: Callable[..., Tensor],
        opt_func: OptFunc = adamw,
        lr: LrSpec = 1e-3,
        wd: float = 1e-2,
        metrics: Iterable[Metric | Callable[[Tensor, Tensor], Tensor]]
        | Callable[[Tensor, Tensor], Tensor] = (),
        splitter: Splitter | None = None,
        cbs: Iterable[CallbackLike] = (),
        path: str | Path = ".",
        device: str | torch.device | None = "auto",
        mixed_precision: str | None = None,
        moms: tuple[float, float, float] = (0.95, 0.85, 0.95),
        train_bn: bool = True,
    ) -> None:
        distributed = distributed_trainer_if_launched(device)  # joins the group: picks this rank's GPU
        self.device = pick_device(device)
        self.model = model.to(self.device)
        self.model_wrapper: nn.Module | None = None  # what the loop calls instead of `model` (DDP) if set
        self.dls, self.loss_func, self.opt_func = dls, loss_func, opt_func
        self.lr, self.wd, self.moms, self.train_bn = lr, wd, moms, train_bn
        self.layer_groups = check_layer_groups(model, (splitter or all_params_splitter)(model))
        lr_ladder(lr, len(self.layer_groups))  # fail early on a bad lr
        self.path = Path(path)
        self.opt: OptimizerLike | None = None
        self.grad_scaler: torch.amp.GradScaler | None = None  # set by MixedPrecision for fp16
        self.cbs: list[Callback] = []
        self._handlers: dict[str, list[Callable[[], None]]] = {}
        self.training, self.in_fit, self.cancelled = False, False, False
        self.epoch = self.n_epoch = self.iter = self.n_iter = self.train_iter = 0
        self.batch: tuple[Any, ...] = ()
        self.pred: Any = None
        self.loss: Tensor = torch.tensor(float("nan"))  # what backward uses; set every batch
        self.fit_error: BaseException | None = None
        self._loss_seen: Tensor | None = None
        self._loss_value = float("nan")
        self.recorder = Recorder(metric_list(metrics))
        defaults: list[Callback] = [DeviceCallback(self.device), NaNGuard(), self.recorder]
        if mixed_precision:
            defaults.append(MixedPrecision(mixed_precision))
        if distributed is not None:
            defaults.append(distributed)
        for cb in (*defaults, *cbs):
            self.add_cb(cb)

    # ---- callbacks --------------------------------------------------------------------------------------

    def add_cb(self, cb: CallbackLike) -> Callback:
        if isinstance(cb, CancelToken):
            cb = CancelOnToken(cb)
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks must subclass engine.callbacks.Callback, got {cb!r}")
        cb.learn = self
        self.cbs.append(cb)
        self.cbs.sort(key=lambda c: c.order)  # stable: equal orders keep insertion order
        self._index_handlers()
        return cb

    def remove_cb(self, cb: Callback) -> None:
        self.cbs.remove(cb)
        self._index_handlers()

    def _index_handlers(self) -> None:
        """Per event, the bound methods of the callbacks that define it, so dispatch costs nothing extra."""
        self._handlers = {
            e: [getattr(cb, e) for cb in self.cbs if callable(getattr(cb, e, None))]
            for e in (*EVENTS, *CANCEL_EVENTS)
        }

    def __call__(self, event: str) -> None:
        for handler in self._handlers[event]:
            handler()

    @contextlib.contextmanager
    def added_cbs(self, cbs: Iterable[CallbackLike]) -> Iterator[list[Callback]]:
        added = [self.add_cb(cb) for cb in cbs]
        try:
            yield added
        finally:
            for cb in added:
                self.remove_cb(cb)

    # ---- state callbacks read ---------------------------------------------------------------------------

    @property
    def xb(self) -> tuple[Any, ...]:
        return self.batch[:-1]

    @property
    def yb(self) -> Any:
        return self.batch[-1]

    @property
    def loss_value(self) -> float:
        """`loss` as a Python float, computed once per batch however many callbacks ask."""
        if self.loss is not self._loss_seen:
            self._loss_seen, self._loss_value = self.loss, self.loss.item()
        return self._loss_value

    @loss_value.setter
    def loss_value(self, value: float) -> None:
        """The float the callbacks read for this batch (DistributedTrainer: the mean over the ranks)."""
        self._loss_seen, self._loss_value = self.loss, value

    @property
    def batch_size(self) -> int:
        target = self.batch[-1]
        if isinstance(target, Tensor):
            return target.shape[0] if target.ndim else 1
        return len(self.batch[0])

    # ---- the loop ---------------------------------------------------------------------------------------

    def fit(
        self,
        n_epoch: int,
        lr: LrSpec | None = None,
        wd: float | None = None,
        cbs: Iterable[CallbackLike] = (),
    ) -> None:
        """Train for `n_epoch` epochs at a constant lr (float, slice or one per group)."""
        if not isinstance(n_epoch, int) or n_epoch < 0:
            raise ValueError(f"n_epoch must be a non-negative int, got {n_epoch!r}")
        opt = self.create_opt()
        set_hyper(opt, "lr", lr_ladder(self.lr if lr is None else lr, len(self.layer_groups)))
        set_hyper(opt, "wd", [self.wd if wd is None else wd] * len(self.layer_groups))
        with self.added_cbs(cbs):
            self._fit(n_epoch)

    def fit_one_cycle(
        self,
        n_epoch: int,
        lr_max: LrSpec | None = None,
        div: float = 25.0,
        div_final: float = 1e5,
        pct_start: float = 0.25,
        moms: tuple[float, float, float] | None = None,
        wd: float | None = None,
        cbs: Iterable[CallbackLike] = (),
    ) -> None:
        """Train with the one-cycle policy (see engine.schedules.one_cycle_lr / one_cycle_mom)."""
        lr_max = self.lr if lr_max is None else lr_max
        lr_maxes = lr_ladder(lr_max, len(self.layer_groups))
        sched = OneCycle(lr_maxes, div=div, div_final=div_final, pct_start=pct_start, moms=moms or self.moms)
        self.fit(n_epoch, lr=lr_max, wd=wd, cbs=[sched, *cbs])

    def _fit(self, n_epoch: int) -> None:
        # The fit level differs on purpose: after_fit runs however fit ends (done, cancelled or failed),
        # so callbacks can always report the ending; `cancelled` and `fit_error` are set before it runs.
        self.n_epoch, self.epoch, self.train_iter = n_epoch, 0, 0
        self.cancelled, self.fit_error, self.in_fit = False, None, True
        try:
            self("before_fit")
            for self.epoch in range(n_epoch):
                self._with_events("epoch", self._one_epoch, CancelEpochException)
        except CancelFitException:
            self.cancelled = True
            self("after_cancel_fit")
        except BaseException as err:
            self.fit_error = err
            raise
        finally:
            self.in_fit = False
            self("after_fit")

    def _with_events(self, level: str, body: Callable[[], None], cancel: type[Exception]) -> None:
        """before_<level>, the body, after_<level>; `cancel` raised inside ends this level only, with
        after_cancel_<level> in place of after_<level> (engine.callbacks.core.CANCEL_EVENTS)."""
        try:
            self(f"before_{level}")
            body()
            self(f"after_{level}")
        except cancel:
            self(f"after_cancel_{level}")

    def _one_epoch(self) -> None:
        self._run_stage(training=True, dl=self.dls.train)
        if self.dls.valid is not None:
            self._run_stage(training=False, dl=self.dls.valid)

    def _run_stage(self, training: bool, dl: Iterable[Any]) -> None:
        self.training, self.dl, self.n_iter, self.iter = training, dl, len(dl), 0  # type: ignore[arg-type]
        self.model.train(training)
        if training:
            self._with_events("train", self._all_batches, CancelTrainException)
        else:
            self._with_events("validate", self._all_batches, CancelValidException)

    def _all_batches(self) -> None:
        with contextlib.nullcontext() if self.training else torch.no_grad():
            for self.iter, batch in enumerate(self.dl):  # noqa: B020 (the learner's own counter, on purpose)
                self.batch = batch if isinstance(batch, tuple) else tuple(batch)
                self._one_batch()

    def _one_batch(self) -> None:
        self._with_events("batch", self._do_one_batch, CancelBatchException)
        if self.training:
            self.train_iter += 1

    def _do_one_batch(self) -> None:
        self.pred = (self.model if self.model_wrapper is None else self.model_wrapper)(*self.batch[:-1])
        self("after_pred")
        self.loss = self.loss_func(self.pred, self.batch[-1])
        self("after_loss")
        if not self.training:
            return
        try:
            self("before_backward")
            self._backward()
            self("after_backward")
            self._step()
            self("after_step")
        finally:  # also when a callback cancels the batch after backward: no gradient leaks into the next
            self.opt.zero_grad(set_to_none=True)  # type: ignore[union-attr]

    def _backward(self) -> None:
        loss = self.loss if self.grad_scaler is None else self.grad_scaler.scale(self.loss)
        loss.backward()

    def _step(self) -> None:
        if self.grad_scaler is None:
            self.opt.step()  # type: ignore[union-attr]
        else:
            self.grad_scaler.step(self.opt)  # type: ignore[arg-type]
            self.grad_scaler.update()

    # ---- optimizer and layer groups ---------------------------------------------------------------------

    def create_opt(self) -> OptimizerLike:
        """The optimizer, built on first use and after freeze changes (which reset its state)."""
        if self.opt is None:
            lrs = lr_ladder(self.lr, len(self.layer_groups))
            self.opt = self.opt_func(self.layer_groups, lr=lrs[-1], wd=self.wd)  # type: ignore[call-arg]
            if len(self.opt.param_groups) != len(self.layer_groups):
                raise ValueError("opt_func must build one param group per layer group")
            set_hyper(self.opt, "lr", lrs)
        return self.opt

    def freeze_to(self, n: int) -> None:
        """Train only layer groups [n:] (norm layers stay trainable if train_bn); resets the optimizer."""
        norm_ids = norm_param_ids(self.model) if self.train_bn else set()
        freeze_groups(self.layer_groups, n, norm_ids)
        for group in self.layer_groups:
            for p in group:
                p.grad = None
        self.opt = None

    def freeze(self) -> None:
        self.freeze_to(-1)

    def unfreeze(self) -> None:
        self.freeze_to(0)

    # ---- evaluation ---------------------------------------------------------------------------------------

    def validate(self, dl: Iterable[Any] | None = None) -> dict[str, float]:
        """Loss and metrics on `dl` (default: the valid loader): {"valid_loss": ..., "<metric>": ...}."""
        dl = self._eval_loader(dl)
        self._run_stage(training=False, dl=dl)
        return dict(self.recorder.last_valid)

    def get_preds(self, dl: Iterable[Any] | None = None) -> tuple[Tensor, Tensor]:
        """Raw model outputs (no activation) and targets over `dl` (default: valid), on the CPU."""
        gather = _GatherPreds()
        with self.added_cbs([gather]):
            self._run_stage(training=False, dl=self._eval_loader(dl))
        if not gather.preds:
            raise ValueError("get_preds: the loader yielded no batches")
        return torch.cat(gather.preds), torch.cat(gather.targets)

    def _eval_loader(self, dl: Iterable[Any] | None) -> Iterable[Any]:
        dl = self.dls.valid if dl is None else dl
        if dl is None:
            raise ValueError("no loader given and the DataLoaders have no valid loader")
        return dl

    def predict(self, item: Any) -> Any:
        """Hook: task learners (text, tabular, collab) turn one raw item into a prediction."""
        raise NotImplementedError(f"{type(self).__name__} has no predict; use a task learner or get_preds")

    def lr_find(
        self, start_lr: float = 1e-7, end_lr: float = 10, num_it: int = 100, stop_div: bool = True
    ) -> LRFindResult:
        """Exponential lr sweep (engine.callbacks.lr_finder), then restore the weights and optimizer state."""
        finder = LRFinder(start_lr, end_lr, num_it, stop_div)
        had_opt = self.opt is not None
        opt = self.create_opt()
        model_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        opt_state = copy.deepcopy(opt.state_dict())
        try:
            self.fit(math.ceil(num_it / max(len(self.dls.train), 1)), cbs=[finder])
        finally:
            self.model.load_state_dict(model_state)
            if had_opt:
                opt.load_state_dict(opt_state)
            else:
                self.opt = None
            if finder.stopped_itself:  # its own stop is no cancellation; a CancelToken's stays visible
                self.cancelled = False
        valley, steep, minimum = suggest(finder.lrs, finder.losses)
        return LRFindResult(finder.lrs, finder.losses, valley=valley, steep=steep, minimum=minimum)

    # ---- persistence -------------------------------------------------------------------------------------

    def save(self, name: str, with_opt: bool = True) -> Path:
        """Save model (and optimizer) state to path/models/name.pth; returns the file."""
        file = self.path / "models" / f"{name}.pth"
        file.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "model": self.model.state_dict(),
            "opt": self.opt.state_dict() if with_opt and self.opt else None,
        }
        write_on_main(lambda: torch.save(state, file))  # every rank holds the same weights
        return file

    def load(self, name: str, with_opt: bool = True, strict: bool = True) -> Learner:
        file = self.path / "models" / f"{name}.pth"
        if not file.exists():
            raise FileNotFoundError(f"no saved model {name!r} at {file}")
        state = torch.load(file, map_location=self.device, weights_only=True)
        self.model.load_state_dict(state["model"], strict=strict)
        if with_opt and state.get("opt") is not None:
            self.create_opt().load_state_dict(state["opt"])
        return self

    def distributed(
        self, timeout: float | None = None, find_unused_parameters: bool = False
    ) -> contextlib.AbstractContextManager[Learner]:
        """`with learn.distributed(): learn.fit(...)` trains data-parallel (fastai's `distrib_ctx`; DDP on
        CUDA); run the script with torchrun. See engine.callbacks.distributed."""
        return distributed_context(self, timeout, find_unused_parameters)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={type(self.model).__name__}, device={self.device}, groups={len(self.layer_groups)})"


class _GatherPreds(Callback):
    order = 100

    def __init__(self) -> None:
        self.preds: list[Tensor] = []
        self.targets: list[Tensor] = []

    def after_batch(self) -> None:
        self.preds.append(self.learn.pred.detach().float().cpu())
        self.targets.append(self.learn.yb.detach().cpu())
