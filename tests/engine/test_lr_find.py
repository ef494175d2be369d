"""lr_find: the sweep, the early stop on divergence, the restore, the suggestions."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from engine import DataLoaders, Learner, set_seed
from engine.callbacks.lr_finder import suggest
from engine.optim import sgd


def quadratic_learner() -> Learner:
    """y = 3x, x ~ N(0, 1), one weight, plain SGD: the loss (w - 3)^2 E[x^2] has curvature L = 2, so the
    best constant lr is 1/L = 0.5 and every lr above 2/L = 1 diverges."""
    set_seed(0)
    x = torch.randn(4096, 1)
    y = 3 * x + 0.1 * torch.randn_like(x)
    dls = DataLoaders.from_tensors((x, y), None, bs=64)
    return Learner(
        nn.Linear(1, 1, bias=False), dls, F.mse_loss, opt_func=partial(sgd, mom=0.0), wd=0.0, device="cpu"
    )


def test_suggestions_are_near_the_known_best_lr_and_divergence_stops_early() -> None:
    learn = quadratic_learner()
    result = learn.lr_find(start_lr=1e-5, end_lr=100, num_it=100)
    assert len(result.lrs) == len(result.losses) < 100  # stopped on divergence
    assert 1.0 < result.lrs[-1] < 100  # ... soon after the lr passed 2/L
    assert result.lrs == sorted(result.lrs)
    for name in ("valley", "minimum", "steep"):
        value = getattr(result, name)
        assert 0.5 / 10 <= value <= 0.5 * 10, f"{name}={value}"


def test_lr_find_restores_model_and_optimizer() -> None:
    learn = quadratic_learner()
    learn.fit(1, lr=0.01)
    weights = learn.model.weight.detach().clone()
    opt_state = {k: v for k, v in learn.opt.state_dict()["param_groups"][0].items() if k != "params"}
    learn.lr_find(num_it=30)
    assert torch.equal(learn.model.weight, weights)
    after = {k: v for k, v in learn.opt.state_dict()["param_groups"][0].items() if k != "params"}
    assert after == opt_state
    assert not learn.cancelled


def test_without_stop_div_the_sweep_runs_until_the_loss_is_not_finite() -> None:
    learn = quadratic_learner()
    stopped = learn.lr_find(start_lr=1e-5, end_lr=100, num_it=100).lrs
    full = learn.lr_find(start_lr=1e-5, end_lr=100, num_it=100, stop_div=False).lrs
    assert len(full) > len(stopped)


def test_sweep_is_exponential_and_runs_num_it_steps() -> None:
    learn = quadratic_learner()
    result = learn.lr_find(start_lr=1e-6, end_lr=1e-2, num_it=40)  # never diverges
    assert len(result.lrs) == 40
    assert result.lrs[0] == pytest.approx(1e-6) and result.lrs[-1] == pytest.approx(1e-2)
    assert np.allclose(np.diff(np.log(result.lrs)), np.log(1e4) / 39)


def test_suggest_on_a_hand_made_curve() -> None:
    lrs = list(np.logspace(-6, 0, 61))
    # flat, then a descent between 1e-4 and 1e-2, then a blow-up
    losses = [2.0 if lr < 1e-4 else 2.0 - np.log10(lr / 1e-4) if lr <= 1e-2 else 10 * lr for lr in lrs]
    valley, steep, minimum = suggest(lrs, losses)
    assert 1e-4 < steep < 1e-2
    assert minimum == pytest.approx(1e-2 / 10)
    assert 1e-4 <= valley <= 1e-2
    with pytest.raises(ValueError, match="no finite loss"):
        suggest([1e-3, 1e-2], [float("nan"), float("inf")])


def test_bad_sweep_arguments() -> None:
    learn = quadratic_learner()
    with pytest.raises(ValueError, match="start_lr < end_lr"):
        learn.lr_find(start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="num_it"):
        learn.lr_find(num_it=1)
