"""A test lab that trains a tiny engine model through the context, for the distributed (torchrun) tests."""

from __future__ import annotations

import os
import time

import torch
from torch import nn

from engine.callbacks.core import Callback
from engine.data import DataLoaders, TensorLoader
from engine.learner import Learner
from labs.context import LabContext
from labs.registry import LabInfo, Param, _presets


class Slow(Callback):
    def __init__(self, delay: float) -> None:
        self.delay = delay

    def after_batch(self) -> None:
        time.sleep(self.delay)


def run(ctx: LabContext) -> dict[str, object]:
    with ctx.stage("train"):
        g = torch.Generator().manual_seed(0)
        x = torch.randn(64, 3, generator=g)
        y = x.sum(dim=1, keepdim=True)
        dls = DataLoaders(
            TensorLoader(x, y, batch_size=8, shuffle=True), TensorLoader(x[:20], y[:20], batch_size=8)
        )
        learn = ctx.watch(
            Learner(
                nn.Linear(3, 1), dls, nn.functional.mse_loss, lr=0.05, device=ctx.device, path=ctx.work_dir
            )
        )
        learn.fit(ctx.p.epochs, cbs=[Slow(ctx.p.delay)])
        ctx.check_cancelled()
        learn.save("tiny")
    return {
        "world_size": int(os.environ.get("WORLD_SIZE", "1")),
        "valid_loss": learn.recorder.rows[-1]["valid_loss"],
    }


DISTRIBUTED = LabInfo(
    id="test-distributed",
    title="Distributed (test)",
    summary="A tiny model trained on every rank.",
    card_ids=(),
    params=(
        Param("epochs", "int", 2, "epochs", min=1),
        Param("delay", "float", 0.0, "seconds each batch sleeps, so that a test can cancel midway", min=0.0),
    ),
    presets=_presets(smoke={}, full={}),
    question=None,
    module="tests.labs.fake_labs_distributed",
    steps=("train",),
)
