"""Optimizers, layer groups, freezing, and discriminative learning rates.

A layer group is a list of Parameters (from a splitter); each becomes one optimizer param group, so the
schedulers can give every group its own lr, weight decay and momentum.

The optimizers (AdamW, SGD) are the engine's own rather than torch.optim's, as fastai's are: building a
torch.optim.Optimizer imports torch's compiler (about a second in every fresh training process), and its
step() wrapper costs more per step than the fused AdamW kernel it calls. Ours call the same kernels with
the same arguments (so the numbers are torch's, to the bit), keep torch's state_dict format (checkpoints
move both ways), and give torch's GradScaler what it duck-types: `param_groups` and `step`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from engine.utils import one_thread

try:  # torch's own list; a torch without it (or without the fused kernel) takes the foreach update
    from torch.utils._foreach_utils import _get_fused_kernels_supported_devices
except ImportError:  # pragma: no cover (torch 2.2 on has it)

    def _get_fused_kernels_supported_devices() -> list[str]:
        return []


# A CPU step over fewer elements than this runs on one thread: spread over threads it cost more than it
# saved. Fused AdamW, 2 threads (idle ones sleeping) against one, torch 2.13, this project's 2-core machine:
# a tabular model's 29k params 706 us against 58 us a step, a collab model's 108k 271 against 72 us; the
# benchmark LM's 2.8M params 1.8 ms against 2.0 ms.
SMALL_STEP_ELEMENTS = 1_000_000

LayerGroups = list[list[nn.Parameter]]
LrSpec = float | slice | Sequence[float]
ParamGroup = dict[str, Any]

NORM_TYPES: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._BatchNorm,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.modules.instancenorm._InstanceNorm,
)


class OptimizerLike(Protocol):
    """What the engine uses of an optimizer: ours, or any torch.optim.Optimizer an opt_func returns."""

    param_groups: list[ParamGroup]

    def step(self) -> Any: ...

    def zero_grad(self, set_to_none: bool = True) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state_dict: dict[str, Any]) -> None: ...


OptFunc = Callable[[LayerGroups, float, float], OptimizerLike]


@dataclass
class _Bucket:
    """The params of one group that have a grad, on one device with one dtype, and their state tensors."""

    indices: list[int] | None  # where their grads sit in the group's params; None: all of them, in order
    params: list[Tensor]
    tensors: dict[str, list[Tensor]] = field(default_factory=dict)  # state by name, in the order of params


@dataclass
class _Plan:
    has_grad: list[bool]  # which of the group's params had a grad when the buckets were built
    buckets: list[_Bucket]


class Optimizer:
    """Param groups, per-param state, zero_grad and torch's state_dict format; subclasses define the update.

    The per-step lists (params, state tensors) are built once per group and rebuilt only when the set of
    params that have a grad changes (frozen params have none), or after load_state_dict.
    """

    def __init__(self, groups: Iterable[Iterable[Tensor]], **hypers: Any) -> None:
        self.param_groups: list[ParamGroup] = [{**hypers, "params": list(group)} for group in groups]
        params = list(self._all_params())
        for p in params:
            if not isinstance(p, Tensor) or not (p.is_floating_point() and p.is_leaf):
                raise TypeError(f"can only optimize floating-point leaf tensors, got {type(p).__name__}")
        self.state: dict[Tensor, dict[str, Any]] = {}
        self._plans: dict[int, _Plan] = {}
        self._small_cpu_step = (
            all(p.device.type == "cpu" for p in params)
            and sum(p.numel() for p in params) < SMALL_STEP_ELEMENTS
        )

    def _all_params(self) -> Iterable[Tensor]:
        return chain.from_iterable(group["params"] for group in self.param_groups)

    # ---- the update ---------------------------------------------------------------------------------------

    def step(self) -> None:
        with torch.no_grad(), one_thread() if self._small_cpu_step else nullcontext():
            for index, group in enumerate(self.param_groups):
                grads = [p.grad for p in group["params"]]
                has_grad = [g is not None for g in grads]
                plan = self._plans.get(index)
                if plan is None or plan.has_grad != has_grad:
                    plan = self._plans[index] = _Plan(has_grad, self._buckets(group["params"], has_grad))
                for bucket in plan.buckets:
                    bucket_grads = grads if bucket.indices is None else [grads[i] for i in bucket.indices]
                    self._update(group, bucket, bucket_grads)

    def _buckets(self, params: list[Tensor], has_grad: list[bool]) -> list[_Bucket]:
        by_kind: dict[tuple[torch.device, torch.dtype], list[int]] = {}
        for i, p in enumerate(params):
            if has_grad[i]:
                if p.grad is not None and p.grad.is_sparse:
                    raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
                by_kind.setdefault((p.device, p.dtype), []).append(i)
        buckets = []
        for indices in by_kind.values():
            bucket_params = [params[i] for i in indices]
            everyone = len(indices) == len(params)  # then indices == range(len(params)): no grads to pick
            bucket = _Bucket(None if everyone else indices, bucket_params)
            self._init_state(bucket)
            buckets.append(bucket)
        return buckets

    def _init_state(self, bucket: _Bucket) -> None:
        """Create the state of the bucket's params that have none yet, and list it in bucket.tensors."""

    def _update(self, group: ParamGroup, bucket: _Bucket, grads: list[Tensor]) -> None:
        raise NotImplementedError

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self._all_params():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                if p.grad.grad_fn is not None:
                    p.grad.detach_()
                else:
                    p.grad.requires_grad_(False)
                p.grad.zero_()

    # ---- torch's state_dict format ------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """{"state": {index: {name: tensor}}, "param_groups": [{hyper-parameters..., "params": [index]}]},
        indices numbering the params across groups in order, as torch.optim.Optimizer.state_dict does."""
        index: dict[int, int] = {}
        packed_groups = []
        start = 0
        for group in self.param_groups:
            params = group["params"]
            index.update({id(p): i for i, p in enumerate(params, start) if id(p) not in index})
            packed = {k: v for k, v in group.items() if k != "params"} | self._torch_flags()
            packed["params"] = [index[id(p)] for p in params]
            packed_groups.append(packed)
            start += len(params)
        state = {index[id(p)]: values for p, values in self.state.items()}
        return {"state": state, "param_groups": packed_groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state_dict of ours or of torch's optimizer of the same kind (same groups, same sizes)."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(s["params"]) != len(g["params"]) for s, g in zip(saved_groups, self.param_groups)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of optimizer's group"
            )
        params_by_index = dict(
            zip(chain.from_iterable(s["params"] for s in saved_groups), self._all_params(), strict=True)
        )
        state: dict[Tensor, dict[str, Any]] = {}
        for key, values in state_dict["state"].items():
            param = params_by_index.get(key)
            if param is not None:
                state[param] = {name: self._loaded_value(param, name, v) for name, v in values.items()}
        dropped = {"params", "param_names", *self._torch_flags()}
        self.param_groups = [
            {**group, **{k: v for k, v in saved.items() if k not in dropped}, "params": group["params"]}
            for group, saved in zip(self.param_groups, saved_groups)
        ]
        self.state = state
        self._plans = {}

    def _loaded_value(self, param: Tensor, name: str, value: Any) -> Any:
        if not isinstance(value, Tensor):
            return value
        return value.to(dtype=param.dtype, device=param.device)

    def _torch_flags(self) -> dict[str, Any]:
        """torch.optim's flags for the same update, written into state_dict() so that torch's own class
        loads our checkpoints as this update; they are not settings here, so load_state_dict drops them."""
        return {}

    def __repr__(self) -> str:
        sizes = [len(group["params"]) for group in self.param_groups]
        return f"{type(self).__name__}(params per group={sizes})"


def _scalar_dtype() -> torch.dtype:
    """The dtype torch.optim gives a step counter on the CPU (the fused kernels want float32)."""
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


def _check_hypers(lr: float, weight_decay: float, betas: Sequence[float] = (), eps: float = 0.0) -> None:
    if not lr >= 0.0:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not weight_decay >= 0.0:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")
    if not eps >= 0.0:
        raise ValueError(f"Invalid epsilon value: {eps}")
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {beta}")


class AdamW(Optimizer):
    """AdamW (decoupled weight decay), torch.optim.AdamW's update without amsgrad and maximize.

    Fused (torch._fused_adamw_, one kernel per device and dtype) where every param's device has the kernel;
    else torch's foreach implementation of the same update. Fused, it takes a GradScaler's scale and inf flag
    into the kernel (no unscale pass, no sync), as torch's fused AdamW does.
    """

    def __init__(
        self,
        groups: Iterable[Iterable[Tensor]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        fused: bool | None = None,
    ) -> None:
        _check_hypers(lr, weight_decay, betas, eps)
        super().__init__(groups, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)
        fused_devices = _get_fused_kernels_supported_devices() if hasattr(torch, "_fused_adamw_") else []
        self.fused = (
            all(p.device.type in fused_devices for p in self._all_params()) if fused is None else fused
        )
        # GradScaler.step reads this: a fused step gets the scale and the inf flag (grad_scale, found_inf).
        self._step_supports_amp_scaling = self.fused

    def _torch_flags(self) -> dict[str, Any]:
        return {
            "amsgrad": False,
            "maximize": False,
            "foreach": None if self.fused else True,
            "capturable": False,
            "differentiable": False,
            "fused": True if self.fused else None,
            "decoupled_weight_decay": True,
        }

    def _new_step(self, param: Tensor) -> Tensor:
        # As torch: a fused kernel counts steps in float32 on the param's device, foreach on the CPU.
        if self.fused:
            return torch.zeros((), dtype=torch.float32, device=param.device)
        return torch.tensor(0.0, dtype=_scalar_dtype(), device="cpu")

    def _init_state(self, bucket: _Bucket) -> None:
        for p in bucket.params:
            if not self.state.get(p):
                self.state[p] = {
                    "step": self._new_step(p),
                    "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                    "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
                }
        for name in ("step", "exp_avg", "exp_avg_sq"):
            bucket.tensors[name] = [self.state[p][name] for p in bucket.params]

    def _loaded_value(self, param: Tensor, name: str, value: Any) -> Any:
        if name == "step":
            step = value if isinstance(value, Tensor) else torch.tensor(float(value))
            new = self._new_step(param)
            return step.to(dtype=new.dtype, device=new.device)
        return super()._loaded_value(param, name, value)

    def _update(self, group: ParamGroup, bucket: _Bucket, grads: list[Tensor]) -> None:
        if self.fused:
            self._fused_update(group, bucket, grads)
        else:
            self._foreach_update(group, bucket, grads)

    def _fused_update(self, group: ParamGroup, bucket: _Bucket, grads: list[Tensor]) -> None:
        """torch.optim.adam._fused_adam with decoupled weight decay."""
        params, tensors = bucket.params, bucket.tensors
        steps = tensors["step"]
        device = params[0].device
        grad_scale = getattr(self, "grad_scale", None)  # set by GradScaler.step for this step only
        found_inf = getattr(self, "found_inf", None)
        grad_scale = None if grad_scale is None else grad_scale.to(device, non_blocking=True)
        found_inf = None if found_inf is None else found_inf.to(device, non_blocking=True)
        beta1, beta2 = group["betas"]
        torch._foreach_add_(steps, 1)
        torch._fused_adamw_(
            params,
            grads,
            tensors["exp_avg"],
            tensors["exp_avg_sq"],
            [],
            steps,
            amsgrad=False,
            lr=group["lr"],
            beta1=beta1,
            beta2=beta2,
            weight_decay=group["weight_decay"],
            eps=group["eps"],
            maximize=False,
            grad_scale=grad_scale,
            found_inf=found_inf,
        )
        if found_inf is not None:  # a skipped step does not count
            torch._foreach_sub_(steps, [found_inf] * len(steps))

    def _foreach_update(self, group: ParamGroup, bucket: _Bucket, grads: list[Tensor]) -> None:
        """torch.optim.adam._multi_tensor_adam with decoupled weight decay, not capturable."""
        params, tensors = bucket.params, bucket.tensors
        steps, exp_avgs, exp_avg_sqs = tensors["step"], tensors["exp_avg"], tensors["exp_avg_sq"]
        lr, weight_decay, eps = group["lr"], group["weight_decay"], group["eps"]
        beta1, beta2 = group["betas"]
        if steps[0].is_cpu:
            torch._foreach_add_(steps, torch.tensor(1.0, device="cpu"), alpha=1.0)
        else:
            torch._foreach_add_(steps, 1)
        if weight_decay != 0:
            torch._foreach_mul_(params, 1 - lr * weight_decay)
        torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
        torch._foreach_mul_(exp_avg_sqs, beta2)
        torch._foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - beta2)
        counts = [step.item() for step in steps]
        step_sizes = [(lr / (1 - beta1**count)) * -1 for count in counts]
        bias_correction2_sqrt = [(1 - beta2**count) ** 0.5 for count in counts]
        denom = torch._foreach_sqrt(exp_avg_sqs)
        torch._foreach_div_(denom, bias_correction2_sqrt)
        torch._foreach_add_(denom, eps)
        torch._foreach_addcdiv_(params, exp_avgs, denom, step_sizes)


class SGD(Optimizer):
    """SGD with momentum and classic L2 weight decay (added to the gradient): torch.optim.SGD's foreach
    update without dampening, nesterov and maximize. A param's momentum buffer starts as its first
    gradient."""

    def __init__(
        self,
        groups: Iterable[Iterable[Tensor]],
        lr: float = 1e-2,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        _check_hypers(lr, weight_decay)
        if not momentum >= 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        super().__init__(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)

    def _torch_flags(self) -> dict[str, Any]:
        flags = ("dampening", "nesterov", "maximize", "foreach", "differentiable", "fused")
        return dict(zip(flags, (0, False, False, True, False, None)))

    def _init_state(self, bucket: _Bucket) -> None:
        buffers = [self.state.get(p, {}).get("momentum_buffer") for p in bucket.params]
        present = [buffer for buffer in buffers if buffer is not None]
        if len(present) == len(buffers):  # else the first step makes the missing ones
            bucket.tensors["momentum_buffer"] = present

    def _update(self, group: ParamGroup, bucket: _Bucket, grads: list[Tensor]) -> None:
        """torch.optim.sgd._multi_tensor_sgd with dampening 0, no nesterov, no maximize."""
        params = bucket.params
        lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
        if weight_decay != 0:
            grads = list(torch._foreach_add(grads, params, alpha=weight_decay))
        if momentum != 0:
            buffers = bucket.tensors.get("momentum_buffer")
            if buffers is None:
                bucket.tensors["momentum_buffer"] = grads = self._first_momentum(params, grads, momentum)
            else:
                torch._foreach_mul_(buffers, momentum)
                torch._foreach_add_(buffers, grads, alpha=1)
                grads = buffers
        torch._foreach_add_(params, grads, alpha=-lr)

    def _first_momentum(self, params: list[Tensor], grads: list[Tensor], momentum: float) -> list[Tensor]:
        """Some params have no buffer yet: theirs starts as their gradient, the others' update one by one."""
        buffers = []
        for p, grad in zip(params, grads):
            state = self.state.setdefault(p, {})
            buffer = state.get("momentum_buffer")
            if buffer is None:
                buffer = state["momentum_buffer"] = grad.detach().clone()
            else:
                buffer.mul_(momentum).add_(grad, alpha=1)
            buffers.append(buffer)
        return buffers


def adamw(
    groups: LayerGroups,
    lr: float = 1e-3,
    wd: float = 1e-2,
    mom: float = 0.9,
    sqr_mom: float = 0.99,
    eps: float = 1e-5,
) -> AdamW:
    """AdamW (decoupled weight decay) with one param group per layer group; "mom" is betas[0].

    Uses the fused kernel (one kernel for all params: the fastest on CPU and CUDA) and falls back to the
    foreach one where this device has no fused AdamW."""
    return AdamW(groups, lr=lr, betas=(mom, sqr_mom), eps=eps, weight_decay=wd)


def sgd(groups: LayerGroups, lr: float = 1e-2, wd: float = 0.0, mom: float = 0.9) -> SGD:
    """SGD with momentum; its weight decay is classic L2 (added to the gradient)."""
    return SGD(groups, lr=lr, momentum=mom, weight_decay=wd)


# ---- hyper-parameters by the lesson's names -------------------------------------------------------------


def set_hyper(opt: OptimizerLike, name: str, values: Sequence[float]) -> None:
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
