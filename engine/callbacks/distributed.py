"""The DistributedTrainer callback (data-parallel training for each fit) and `learn.distributed()`; see
engine.distributed."""

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
    average_gradients,
    broadcast_int,
    broadcast_tensors,
    check_same_sizes,
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
    """`with learn.distributed():` train `learn` data-parallel; the group is set up here unless it exists, and
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
    """Trains data-parallel in each fit: the loaders sharded, the gradients averaged over the ranks after
    backward, each training loss averaged over the ranks (so the recorder, NaNGuard and the events see the
    global batch's loss) and the validation totals all-reduced before the Recorder averages them.

    On CUDA the model is wrapped in DistributedDataParallel, whose all-reduce overlaps backward. On a CPU
    (gloo) the trainer does DDP's work itself, with the same arithmetic: rank 0's weights and buffers
    broadcast at the start, its buffers again before each training batch, one gradient sum after backward
    (through shared memory when every rank is on this machine, see engine.distributed.average_gradients).
    DDP's overlap gained nothing there (one flat all-reduce after backward measured as fast on the
    benchmark LM), and building DDP imports torch's compiler, 1.2 s of every fit on this 2-core machine.
    """

    order = -20  # after DeviceCallback's before_fit; before the Recorder (50) and NaNGuard (100)

    def __init__(self, find_unused_parameters: bool = False) -> None:
        self.find_unused_parameters = find_unused_parameters  # DDP's option (CUDA); the CPU path needs none
        self._ddp: Any = None
        self._dls: Any = None
        self._trained: list[torch.nn.Parameter] = []
        self._buffers: list[torch.Tensor] = []

    def before_fit(self) -> None:
        if not is_distributed():
            raise DistributedError(
                "DistributedTrainer needs a process group: run under torchrun or inside `with learn.distributed():`"
            )
        learn = self.learn
        if learn.device.type == "cuda":
            self._ddp = self._wrapped(learn.model)
        else:
            self._replicate(learn.model)
        seed = broadcast_int(int(torch.randint(0, 2**31 - 1, ()).item()))
        self._dls = learn.dls
        sharded = copy.copy(learn.dls)
        sharded.train = shard_loader(learn.dls.train, rank(), world_size(), seed, train=True)
        if learn.dls.valid is not None:
            sharded.valid = shard_loader(learn.dls.valid, rank(), world_size(), seed, train=False)
        learn.dls = sharded

    def _wrapped(self, model: torch.nn.Module) -> Any:
        from torch.nn.parallel import DistributedDataParallel

        # its constructor broadcasts rank 0's weights and buffers
        return DistributedDataParallel(
            model, device_ids=[self.learn.device], find_unused_parameters=self.find_unused_parameters
        )

    def _replicate(self, model: torch.nn.Module) -> None:
        """Rank 0's weights and buffers on every rank, as DDP's constructor; remembers what to keep in step."""
        self._trained = [p for p in model.parameters() if p.requires_grad]
        self._buffers = list(model.buffers())
        state = [*model.parameters(), *self._buffers]
        check_same_sizes(state, "models")
        broadcast_tensors(state)

    def before_train(self) -> None:
        if self._ddp is not None:
            self.learn.model_wrapper = self._ddp
            self._ddp.train()

    def before_validate(self) -> None:
        self.learn.model_wrapper = None  # no collective inside validation: its shards differ in length

    def before_batch(self) -> None:
        if self._ddp is None and self.learn.training and self._buffers:
            broadcast_tensors(self._buffers)  # DDP's broadcast_buffers: BatchNorm statistics stay rank 0's

    def before_backward(self) -> None:
        learn = self.learn
        value = learn.loss_value
        learn.loss_value = all_reduce_sum([value])[0] / world_size()

    def after_backward(self) -> None:
        if self._ddp is None:
            average_gradients(self._trained)

    def after_validate(self) -> None:
        if self.learn.in_fit:
            self.learn.recorder.reduce_valid(all_reduce_sum)

    def after_fit(self) -> None:
        learn = self.learn
        learn.model_wrapper = self._ddp = None
        self._trained, self._buffers = [], []
        if self._dls is not None:
            learn.dls, self._dls = self._dls, None


def distributed_trainer_if_launched(device: str | torch.device | None) -> DistributedTrainer | None:
    """Under torchrun (WORLD_SIZE > 1): join the group and give the Learner its DistributedTrainer."""
    if not launched_distributed():
        return None
    setup(device)
    return DistributedTrainer()
