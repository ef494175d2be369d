"""Tiny synthetic problems and models shared by the engine core tests."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from engine import DataLoaders, Learner, set_seed
from engine.callbacks import Callback


def linear_data(n: int = 512, a: float = 3.0, b: float = 2.0, noise: float = 0.01, seed: int = 0):
    """x ~ N(0, 1), y = a*x + b + noise, split 80/20."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, generator=gen)
    y = a * x + b + noise * torch.randn(n, 1, generator=gen)
    cut = int(n * 0.8)
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def linear_learner(bs: int = 32, n: int = 512, seed: int = 0, **kwargs) -> Learner:
    set_seed(seed)
    train, valid = linear_data(n=n, seed=seed)
    dls = DataLoaders.from_tensors(train, valid, bs=bs)
    kwargs.setdefault("device", "cpu")
    return Learner(nn.Linear(1, 1), dls, F.mse_loss, **kwargs)


class FiveBlocks(nn.Module):
    """Five layer groups: a normed stem, three hidden layers, a head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8))
        self.hidden = nn.ModuleList([nn.Linear(8, 8) for _ in range(3)])
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.stem(x))
        for layer in self.hidden:
            x = torch.relu(layer(x))
        return self.head(x)


def five_block_splitter(model: FiveBlocks) -> list[list[nn.Parameter]]:
    return [
        list(model.stem.parameters()),
        *[list(h.parameters()) for h in model.hidden],
        list(model.head.parameters()),
    ]


def classification_learner(n: int = 256, bs: int = 32, **kwargs) -> Learner:
    set_seed(0)
    x = torch.randn(n, 4)
    y = (x[:, 0] + x[:, 1] > 0).long()
    cut = int(n * 0.75)
    dls = DataLoaders.from_tensors((x[:cut], y[:cut]), (x[cut:], y[cut:]), bs=bs)
    kwargs.setdefault("device", "cpu")
    return Learner(FiveBlocks(), dls, F.cross_entropy, splitter=five_block_splitter, **kwargs)


class EventLog(Callback):
    """Records every event it sees, with the training flag."""

    def __init__(self) -> None:
        self.log: list[str] = []

    def __getattr__(self, name: str):
        from engine.callbacks.core import EVENTS

        if name in EVENTS:
            return lambda: self.log.append(name)
        raise AttributeError(name)
