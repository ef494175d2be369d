"""Helpers for the distributed tests: free ports, 2-process gloo jobs, a tiny deterministic task."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from engine.data import DataLoaders, TensorLoader
from engine.learner import Learner
from engine.optim import sgd


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dist_env(rank: int, world: int, port: int) -> dict[str, str]:
    return {
        "RANK": str(rank),
        "LOCAL_RANK": str(rank),
        "WORLD_SIZE": str(world),
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
    }


def _entry(rank: int, fn: Callable[..., None], world: int, port: int, args: tuple) -> None:
    os.environ.update(dist_env(rank, world, port))
    torch.set_num_threads(1)
    fn(rank, *args)


def spawn(fn: Callable[..., None], world: int, *args: object) -> None:
    """Run `fn(rank, *args)` in `world` fresh processes joined by gloo on 127.0.0.1."""
    import torch.multiprocessing as mp

    mp.start_processes(_entry, args=(fn, world, free_port(), args), nprocs=world, start_method="spawn")


def regression_data(n: int = 48, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.1 * torch.randn(n, 1, generator=g)
    return x, y


def regression_learner(bs: int, valid_bs: int, path: Path, model: nn.Module | None = None) -> Learner:
    """A deterministic model (no dropout, no shuffling) on fixed data: the same steps on any rank count."""
    torch.manual_seed(0)
    x, y = regression_data()
    xv, yv = regression_data(n=21, seed=1)
    dls = DataLoaders(TensorLoader(x, y, batch_size=bs), TensorLoader(xv, yv, batch_size=valid_bs))
    model = model or nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    return Learner(model, dls, nn.functional.mse_loss, opt_func=sgd, lr=0.05, device="cpu", path=path)


def abs_error(pred: torch.Tensor, targ: torch.Tensor) -> torch.Tensor:
    return (pred - targ).abs().mean()


if __name__ == "__main__":
    sys.exit("import this module")
