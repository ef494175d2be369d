"""Layer groups: freezing, unfreezing, discriminative learning rates."""

from __future__ import annotations

import pytest
import torch

from engine.optim import lr_ladder
from tests.engine._synthetic import classification_learner


def get_hyper(opt: torch.optim.Optimizer, name: str) -> list[float]:
    """Read back what engine.optim.set_hyper wrote, per param group."""
    if name == "lr":
        return [g["lr"] for g in opt.param_groups]
    if name == "wd":
        return [g.get("weight_decay", 0.0) for g in opt.param_groups]
    if name == "mom":
        return [g["betas"][0] if "betas" in g else g.get("momentum", 0.0) for g in opt.param_groups]
    raise ValueError(f"unknown hyper-parameter {name!r}: use 'lr', 'wd' or 'mom'")


def snapshot(learn) -> list[list[torch.Tensor]]:
    return [[p.detach().clone() for p in group] for group in learn.layer_groups]


def test_ladder_notations() -> None:
    assert lr_ladder(slice(1e-2 / 2.6**4, 1e-2), 5) == [1e-2 / 2.6**k for k in (4, 3, 2, 1, 0)]
    assert lr_ladder(slice(1e-3), 4) == [1e-4, 1e-4, 1e-4, 1e-3]
    assert lr_ladder(3e-3, 3) == [3e-3] * 3
    assert lr_ladder([1e-3, 2e-3], 2) == [1e-3, 2e-3]
    assert lr_ladder(slice(1e-4, 1e-2), 1) == [1e-2]
    for bad in (slice(None), slice(1e-3, 1e-2, 2), -1.0, float("nan"), slice(-1.0, 1.0)):
        with pytest.raises(ValueError):
            lr_ladder(bad, 3)
    with pytest.raises(ValueError, match="3 learning rates given for 2"):
        lr_ladder([1.0, 2.0, 3.0], 2)


def test_fit_with_a_slice_sets_exact_rungs() -> None:
    learn = classification_learner()
    learn.fit(1, lr=slice(1e-2 / 2.6**4, 1e-2))
    assert get_hyper(learn.opt, "lr") == [1e-2 / 2.6**k for k in (4, 3, 2, 1, 0)]


def test_freeze_to_minus_two_trains_only_the_last_two_groups() -> None:
    learn = classification_learner(train_bn=False)
    learn.fit(1, lr=1e-2)
    old_opt = learn.opt
    learn.freeze_to(-2)
    assert learn.opt is None  # optimizer state is reset
    flags = [[p.requires_grad for p in group] for group in learn.layer_groups]
    assert flags == [[False] * len(g) for g in flags[:3]] + [[True] * len(g) for g in flags[3:]]
    before = snapshot(learn)
    learn.fit(1, lr=1e-2)
    after = snapshot(learn)
    assert learn.opt is not old_opt
    for i, (b, a) in enumerate(zip(before, after)):
        changed = [not torch.equal(x, y) for x, y in zip(b, a)]
        assert all(changed) if i >= 3 else not any(changed), f"group {i}"
    stepped = {id(p) for p in learn.opt.state}
    expected = {id(p) for group in learn.layer_groups[3:] for p in group}
    assert stepped == expected


def test_freeze_keeps_norm_layers_trainable_by_default() -> None:
    learn = classification_learner()
    learn.freeze()
    stem = learn.model.stem
    assert not stem[0].weight.requires_grad
    assert stem[1].weight.requires_grad and stem[1].bias.requires_grad
    assert [p.requires_grad for p in learn.layer_groups[-1]] == [True, True]
    assert not any(p.requires_grad for group in learn.layer_groups[1:4] for p in group)


def test_unfreeze_makes_everything_trainable() -> None:
    learn = classification_learner()
    learn.freeze_to(-2)
    learn.unfreeze()
    assert all(p.requires_grad for p in learn.model.parameters())
    learn.fit(1, lr=1e-2)
    assert len(learn.opt.state) == len(list(learn.model.parameters()))


def test_freeze_to_out_of_range() -> None:
    with pytest.raises(ValueError, match="out of range for 5 layer groups"):
        classification_learner().freeze_to(7)


def test_sgd_and_weight_decay_options() -> None:
    from engine.optim import sgd

    learn = classification_learner(opt_func=sgd, wd=0.0)
    learn.fit_one_cycle(1, lr_max=1e-2)
    assert get_hyper(learn.opt, "wd") == [0.0] * 5
    assert get_hyper(learn.opt, "mom") == pytest.approx([0.95] * 5)
    learn.fit(1, wd=0.1)
    assert get_hyper(learn.opt, "wd") == [0.1] * 5
