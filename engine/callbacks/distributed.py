"""The DistributedTrainer callback (DDP for each fit) and `learn.distributed()`; see engine.distributed."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import torch

from engine.callbacks.core import Callback
from engine.distributed import (
    DistributedError,
    _raise_explained,
    all_reduce_sum,
    broadcast_int,
    is_distributed,
    launched_distributed,
    rank,
    rank_device,
    setup,
    teardown,
    world_size,
)
from engine.sharding import shard_loader

if TYPE_CHECKING:
    from engine.learner import Learner


@contextlib.contextmanager
def distributed_context(
    learn: Learner, timeout: float | None = None, find_unused_parameters: bool = False
) -> Iterator[Learner]:
    """`with learn.distributed():` train `learn` with DDP; the group is set up here unless it exists, and
    then destroyed again on the way out, however the block ends."""
    created = setup(learn.device if learn.device.type == "cpu" else "auto", timeout)
    added: Callback | None = None
    try:
        _move_learner(learn, rank_device(learn.device))
        if not any(isinstance(cb, DistributedTrainer) for cb in learn.cbs):
            added = learn.add_cb(DistributedTrainer(find_unused_parameters))
        yield learn
    except Exception as error:
        _raise_explained(error)
    finally:
        if added is not None:
            learn.remove_cb(added)
        if created:
            teardown()


def _move_learner(learn: Learner, device: torch.device) -> None:
    from engine.callbacks.device import DeviceCallback

    if learn.device == device:
        return
    learn.device = device
    learn.model.to(device)
    for cb in learn.cbs:
        if isinstance(cb, DeviceCallback):
            cb.device = device


class DistributedTrainer(Callback):
    """Trains with DistributedDataParallel in each fit: the model wrapped, the loaders sharded, each training
    loss averaged over the ranks (so the recorder, NaNGuard and the events see the global batch's loss) and
    the validation totals all-reduced before the Recorder averages them."""

    order = -20  # after DeviceCallback's before_fit; before the Recorder (50) and NaNGuard (100)

    def __init__(self, find_unused_parameters: bool = False) -> None:
        self.find_unused_parameters = find_unused_parameters
        self._ddp: Any = None
        self._dls: Any = None

    def before_fit(self) -> None:
        if not is_distributed():
            raise DistributedError(
                "DistributedTrainer needs a process group: run under torchrun or inside `with learn.distributed():`"
            )
        learn = self.learn
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [learn.device] if learn.device.type == "cuda" else None
        self._ddp = DistributedDataParallel(
            learn.model, device_ids=device_ids, find_unused_parameters=self.find_unused_parameters
        )  # its constructor broadcasts rank 0's weights and buffers
        seed = broadcast_int(int(torch.randint(0, 2**31 - 1, ()).item()))
        self._dls = learn.dls
        sharded = copy.copy(learn.dls)
        sharded.train = shard_loader(learn.dls.train, rank(), world_size(), seed, train=True)
        if learn.dls.valid is not None:
            sharded.valid = shard_loader(learn.dls.valid, rank(), world_size(), seed, train=False)
        learn.dls = sharded

    def before_train(self) -> None:
        self.learn.model_wrapper = self._ddp
        self._ddp.train()

    def before_validate(self) -> None:
        self.learn.model_wrapper = None  # no collective inside validation: its shards differ in length

    def before_backward(self) -> None:
        learn = self.learn
        value = learn.loss_value
        learn.loss_value = all_reduce_sum([value])[0] / world_size()

    def after_validate(self) -> None:
        if self.learn.in_fit:
            self.learn.recorder.reduce_valid(all_reduce_sum)

    def after_fit(self) -> None:
        learn = self.learn
        learn.model_wrapper = self._ddp = None
        if self._dls is not None:
            learn.dls, self._dls = self._dls, None


def distributed_trainer_if_launched(device: str | torch.device | None) -> DistributedTrainer | None:
    """Under torchrun (WORLD_SIZE > 1): join the group and give the Learner its DistributedTrainer."""
    if not launched_distributed():
        return None
    setup(device)
    return DistributedTrainer()
