"""The engine's own AdamW and SGD: torch.optim's numbers to the bit, torch's state_dict format both ways,
GradScaler's fused path, and no import of torch's compiler on the training path."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

from engine.optim import AdamW, Optimizer, adamw, set_hyper, sgd

N_STEPS = 6
LATE_STEP = 2  # the first layer's bias has no grad before this step (frozen), then trains
SKIP_STEP = 4  # the last layer's weight has no grad on this step only
INF_STEP = 1  # under a GradScaler, a grad is inf on this step: the scaler skips it
LR_CHANGE_STEP = 3  # every group's lr changes before this step, as the schedulers do each batch


def twin_models() -> tuple[nn.Sequential, nn.Sequential]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    return model, copy.deepcopy(model)


def layer_groups(model: nn.Sequential) -> list[list[nn.Parameter]]:
    return [list(model[0].parameters()), list(model[2].parameters())]


def train(
    model: nn.Sequential, opt: object, steps: range, scaler: torch.amp.GradScaler | None = None
) -> None:
    """The same batches and the same missing grads for every model trained with the same `steps`."""
    for step in steps:
        gen = torch.Generator().manual_seed(step)
        x, y = torch.randn(16, 4, generator=gen), torch.randint(0, 3, (16,), generator=gen)
        device = model[0].weight.device
        loss = nn.functional.cross_entropy(model(x.to(device)), y.to(device))
        (loss if scaler is None else scaler.scale(loss)).backward()
        if step < LATE_STEP:
            model[0].bias.grad = None
        if step == SKIP_STEP:
            model[2].weight.grad = None
        if step == INF_STEP and scaler is not None:
            model[2].bias.grad[0] = float("inf")  # type: ignore[index]
        if step == LR_CHANGE_STEP:
            for group in opt.param_groups:  # type: ignore[attr-defined]
                group["lr"] *= 0.5
        if scaler is None:
            opt.step()  # type: ignore[attr-defined]
        else:
            scaler.step(opt)  # type: ignore[arg-type]
            scaler.update()
        opt.zero_grad(set_to_none=True)  # type: ignore[attr-defined]


def assert_same_params(ours: nn.Module, theirs: nn.Module) -> None:
    for (name, a), b in zip(ours.named_parameters(), theirs.parameters()):
        assert torch.equal(a, b), name


ADAMW_GROUPS = [
    {"lr": 1e-2, "weight_decay": 0.1, "betas": (0.9, 0.99), "eps": 1e-5},
    {"lr": 3e-3, "weight_decay": 0.0, "betas": (0.8, 0.95), "eps": 1e-5},
]
SGD_GROUPS = [
    {"lr": 5e-2, "weight_decay": 1e-2, "momentum": 0.9},
    {"lr": 2e-2, "weight_decay": 0.0, "momentum": 0.8},
]


def engine_adamw(model: nn.Sequential, fused: bool = True) -> Optimizer:
    opt = AdamW(layer_groups(model), fused=fused)
    for group, hypers in zip(opt.param_groups, ADAMW_GROUPS):
        group.update(hypers)
    return opt


def torch_adamw(model: nn.Sequential, fused: bool = True) -> torch.optim.Optimizer:
    groups = [{"params": g, **h} for g, h in zip(layer_groups(model), ADAMW_GROUPS)]
    # as engine.optim.adamw built it before it had its own class
    return torch.optim.AdamW(groups, fused=True) if fused else torch.optim.AdamW(groups, foreach=True)


def engine_sgd(model: nn.Sequential) -> Optimizer:
    opt = sgd(layer_groups(model))
    set_hyper(opt, "lr", [g["lr"] for g in SGD_GROUPS])
    set_hyper(opt, "wd", [g["weight_decay"] for g in SGD_GROUPS])
    set_hyper(opt, "mom", [g["momentum"] for g in SGD_GROUPS])
    return opt


def torch_sgd(model: nn.Sequential) -> torch.optim.Optimizer:
    groups = [{"params": g, **h} for g, h in zip(layer_groups(model), SGD_GROUPS)]
    return torch.optim.SGD(groups, foreach=True)


PAIRS: dict[str, tuple[Callable[[nn.Sequential], object], Callable[[nn.Sequential], object]]] = {
    "adamw-fused": (engine_adamw, torch_adamw),
    "adamw-foreach": (lambda m: engine_adamw(m, fused=False), lambda m: torch_adamw(m, fused=False)),
    "sgd": (engine_sgd, torch_sgd),
}


@pytest.mark.parametrize("kind", list(PAIRS))
def test_same_parameters_as_torch_optim_step_by_step(kind: str) -> None:
    make_ours, make_theirs = PAIRS[kind]
    ours, theirs = twin_models()
    opt_ours, opt_theirs = make_ours(ours), make_theirs(theirs)
    for step in range(N_STEPS):
        train(ours, opt_ours, range(step, step + 1))
        train(theirs, opt_theirs, range(step, step + 1))
        assert_same_params(ours, theirs)
    assert not torch.equal(ours[0].weight, twin_models()[0][0].weight)  # it did train


def test_engine_adamw_uses_the_fused_kernel_on_cpu_and_counts_steps_per_param() -> None:
    model, _ = twin_models()
    opt = engine_adamw(model)
    train(model, opt, range(N_STEPS))
    assert opt.fused
    steps = {name: float(opt.state[p]["step"]) for name, p in model.named_parameters()}
    assert steps == {"0.weight": 6.0, "0.bias": 6.0 - LATE_STEP, "2.weight": 5.0, "2.bias": 6.0}


def threads_at_each_fused_step(monkeypatch: pytest.MonkeyPatch, model: nn.Module) -> list[int]:
    """Train `model` at 2 threads; the thread count torch had inside each fused AdamW kernel call."""
    seen: list[int] = []
    fused_adamw = torch._fused_adamw_

    def recording(*args: object, **kwargs: object) -> object:
        seen.append(torch.get_num_threads())
        return fused_adamw(*args, **kwargs)

    monkeypatch.setattr(torch, "_fused_adamw_", recording)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        opt = adamw([list(model.parameters())])
        model(torch.ones(2, 4)).sum().backward()
        opt.step()
        assert torch.get_num_threads() == 2  # the count comes back after the step
    finally:
        torch.set_num_threads(threads)
    return seen


def test_a_small_models_step_runs_on_one_thread_and_a_large_ones_on_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Spread over threads, a step over few elements costs more than it saves (see SMALL_STEP_ELEMENTS)."""
    import engine.optim

    model, _ = twin_models()  # 67 elements
    assert threads_at_each_fused_step(monkeypatch, model) == [1]
    monkeypatch.setattr(engine.optim, "SMALL_STEP_ELEMENTS", 50)
    assert threads_at_each_fused_step(monkeypatch, model) == [2]


@pytest.mark.parametrize("kind", list(PAIRS))
def test_state_dict_moves_between_torch_and_engine_and_training_continues_alike(kind: str) -> None:
    make_ours, make_theirs = PAIRS[kind]
    ours, theirs = twin_models()
    opt_ours, opt_theirs = make_ours(ours), make_theirs(theirs)
    train(theirs, opt_theirs, range(0, 3))
    ours.load_state_dict(theirs.state_dict())
    theirs_state = opt_theirs.state_dict()  # type: ignore[attr-defined]
    fresh_groups = opt_ours.state_dict()["param_groups"]  # type: ignore[attr-defined]
    assert fresh_groups == theirs_state["param_groups"]  # torch's keys and flags, before any load
    opt_ours.load_state_dict(copy.deepcopy(theirs_state))  # type: ignore[attr-defined]
    assert opt_ours.state_dict()["param_groups"] == theirs_state["param_groups"]  # type: ignore[attr-defined]
    train(ours, opt_ours, range(3, N_STEPS))
    train(theirs, opt_theirs, range(3, N_STEPS))
    assert_same_params(ours, theirs)

    # and back: the engine's state into a fresh torch optimizer
    back, _ = twin_models()
    back.load_state_dict(ours.state_dict())
    opt_back = make_theirs(back)
    opt_back.load_state_dict(copy.deepcopy(opt_ours.state_dict()))  # type: ignore[attr-defined]
    train(ours, opt_ours, range(N_STEPS, N_STEPS + 2))
    train(back, opt_back, range(N_STEPS, N_STEPS + 2))
    assert_same_params(ours, back)


def test_load_state_dict_checks_groups_and_keeps_the_engine_update() -> None:
    model, _ = twin_models()
    opt = engine_adamw(model)
    train(model, opt, range(2))
    saved = copy.deepcopy(opt.state_dict())
    saved["param_groups"][0]["fused"] = None  # a torch foreach checkpoint: still our fused update
    fresh = engine_adamw(model)
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["lr"] == ADAMW_GROUPS[0]["lr"] and "fused" not in fresh.param_groups[0]
    assert fresh.state_dict()["param_groups"][0]["fused"] is True
    one_group = adamw([list(model.parameters())])
    with pytest.raises(ValueError, match="different number of parameter groups"):
        one_group.load_state_dict(saved)


CUDA = pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))


@pytest.mark.parametrize("device", ["cpu", CUDA])
@pytest.mark.parametrize("fused", [True, False])
def test_under_a_grad_scaler_the_same_as_torch_and_an_inf_step_is_skipped(fused: bool, device: str) -> None:
    """torch's GradScaler: fused, it hands the scale and inf flag to the kernel (no unscale_ pass);
    foreach, it unscales and skips the step itself."""
    ours, theirs = (model.to(device) for model in twin_models())
    opt_ours, opt_theirs = engine_adamw(ours, fused), torch_adamw(theirs, fused)
    scaler_ours, scaler_theirs = (torch.amp.GradScaler(device, init_scale=2.0**16) for _ in range(2))
    train(ours, opt_ours, range(N_STEPS), scaler_ours)
    train(theirs, opt_theirs, range(N_STEPS), scaler_theirs)
    assert_same_params(ours, theirs)
    assert not torch.equal(ours[0].weight.cpu(), twin_models()[0][0].weight)  # it did train
    assert scaler_ours.get_scale() == scaler_theirs.get_scale() == 2.0**15  # one step was skipped
    ours_steps = {name: float(opt_ours.state[p]["step"]) for name, p in ours.named_parameters()}
    theirs_steps = {name: float(opt_theirs.state[p]["step"]) for name, p in theirs.named_parameters()}
    assert ours_steps == theirs_steps == {"0.weight": 5.0, "0.bias": 4.0, "2.weight": 4.0, "2.bias": 5.0}


def test_a_fresh_process_trains_without_importing_torchs_compiler() -> None:
    code = (
        "import sys, torch\n"
        "from torch import nn\n"
        "from engine import DataLoaders, Learner\n"
        "x = torch.randn(8, 2); y = x.sum(1, keepdim=True)\n"
        "learn = Learner(nn.Linear(2, 1), DataLoaders.from_tensors((x, y), None, bs=8), nn.functional.mse_loss,"
        " device='cpu')\n"
        "learn.fit(1)\n"
        "assert len(learn.recorder.losses) == 1\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "False"
