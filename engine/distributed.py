"""Training on several processes: torch.distributed with DistributedDataParallel, launched by torchrun.

    torchrun --nproc-per-node 8 train.py      # every Learner built under torchrun trains distributed
    with learn.distributed():                 # or explicitly, fastai's `distrib_ctx`
        learn.fit_one_cycle(1, 1e-2)

One process per device: backend nccl on CUDA (each process on its `LOCAL_RANK` GPU), gloo on CPU. The
`DistributedTrainer` callback wraps the model in DDP for each fit (DDP starts every rank from rank 0's
weights) and hands each rank its shard of every loader (`shard_loader`); the batch size of a loader stays
the *global* batch, so N processes take the same steps as one process with the same settings:

- the language-model stream gives rank r the contiguous rows [r*b, (r+1)*b) of its bs rows (b = bs/N),
  the same document order on every rank, so each rank carries the hidden state of its own rows;
- index loaders (TensorLoader, SortedPadLoader, torch DataLoader) draw one permutation per epoch from a seed
  every rank shares and give rank r rows r, r+N, ... of each batch (the last batch padded from the start of
  the epoch's order, the DistributedSampler idea), so every rank runs the same number of batches;
- validation shards are not padded: the sums and counts of the loss and the metrics are all-reduced, so the
  numbers are those of the whole validation set.

Rank 0 alone writes files (`write_on_main`) and reports (EventStream, ProgressPrinter). A rank that dies or
hangs: every rank counts a heartbeat in the rendezvous store; a failed or timed-out collective (the group's
timeout, `CARDLAB_DIST_TIMEOUT` seconds, default 600) is turned into a `DistributedError` naming the rank
whose heartbeat stopped. `teardown()` destroys the process group on every exit path.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, Subset

from engine.callbacks.core import Callback

if TYPE_CHECKING:
    from engine.learner import Learner

T = TypeVar("T")
TIMEOUT_ENV = "CARDLAB_DIST_TIMEOUT"
DEFAULT_TIMEOUT = 600.0  # seconds a collective may wait for a rank before the others give up


class DistributedError(RuntimeError):
    """A distributed run cannot go on (a rank died or hangs, or the group could not be set up)."""


# ---- the process's place in the run ---------------------------------------------------------------------


def env_world_size() -> int:
    """WORLD_SIZE as torchrun sets it (1 outside torchrun)."""
    return _env_int("WORLD_SIZE", 1)


def launched_distributed() -> bool:
    """True under torchrun (or any launcher) with more than one process."""
    return env_world_size() > 1


def is_distributed() -> bool:
    """A process group of more than one process is set up in this process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else _env_int("RANK", 0)


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def local_rank() -> int:
    return _env_int("LOCAL_RANK", 0)


def is_main_process() -> bool:
    return rank() == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError:
        raise DistributedError(f"{name}={value!r} in the environment is not a whole number") from None


def rank_device(device: str | torch.device | None = "auto") -> torch.device:
    """The device this rank trains on: its LOCAL_RANK GPU for "auto"/"cuda" when CUDA exists, else CPU."""
    wanted = "auto" if device is None else str(device)
    if wanted == "cpu" or wanted == "mps" or not torch.cuda.is_available():
        return torch.device("cpu" if wanted != "mps" else "mps")
    if wanted not in ("auto", "cuda") and not wanted.startswith("cuda"):
        raise DistributedError(f"device {wanted!r} cannot train distributed: use auto, cuda or cpu")
    index = local_rank()
    if index >= torch.cuda.device_count():
        raise DistributedError(
            f"LOCAL_RANK {index} but only {torch.cuda.device_count()} GPU(s): start at most one process per GPU"
        )
    return torch.device("cuda", index)


# ---- setting up and tearing down --------------------------------------------------------------------------


def timeout_seconds(timeout: float | None = None) -> float:
    if timeout is not None:
        return float(timeout)
    value = os.environ.get(TIMEOUT_ENV, "")
    try:
        return float(value) if value else DEFAULT_TIMEOUT
    except ValueError:
        raise DistributedError(f"{TIMEOUT_ENV}={value!r} is not a number of seconds") from None


_heartbeat: _Heartbeat | None = None


def setup(device: str | torch.device | None = "auto", timeout: float | None = None) -> bool:
    """Join the process group torchrun describes (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), unless this
    process is in one already. Returns True when this call created it (then call `teardown`)."""
    global _heartbeat
    if dist.is_initialized():
        return False
    if not dist.is_available():
        raise DistributedError("this torch build has no torch.distributed")
    target = rank_device(device)
    backend = "nccl" if target.type == "cuda" else "gloo"
    if target.type == "cuda":
        torch.cuda.set_device(target)
    seconds = timeout_seconds(timeout)
    try:
        dist.init_process_group(backend=backend, timeout=timedelta(seconds=seconds))
    except (RuntimeError, ValueError) as error:
        raise DistributedError(f"could not join the distributed run ({backend}): {error}") from error
    _heartbeat = _Heartbeat(dist.get_rank(), dist.get_world_size(), seconds)
    atexit.register(teardown)  # a plain torchrun script never calls it itself
    return True


def teardown() -> None:
    """Stop the heartbeat and destroy the process group (safe to call twice)."""
    global _heartbeat
    if _heartbeat is not None:
        _heartbeat.stop()
        _heartbeat = None
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


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


# ---- collectives ------------------------------------------------------------------------------------------


def _comm_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_sum(values: list[float]) -> list[float]:
    """Element-wise sums over every rank (the values themselves outside a distributed run)."""
    if not is_distributed():
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=_comm_device())
    _guarded(lambda: dist.all_reduce(tensor, op=dist.ReduceOp.SUM))
    return tensor.tolist()


def any_rank(flag: bool) -> bool:
    """True on every rank when it is true on any (e.g. "stop"), so all ranks take the same branch."""
    if not is_distributed():
        return flag
    return all_reduce_sum([1.0 if flag else 0.0])[0] > 0


def agreed_stop(learn: Learner, flag: bool) -> bool:
    """A cancel request, agreed by every rank at the same training batch. Validation shards differ in
    length, so a request seen while validating waits for the next training batch."""
    if not is_distributed():
        return flag
    return any_rank(flag) if learn.training else False


def broadcast_int(value: int) -> int:
    """Rank 0's `value` on every rank."""
    if not is_distributed():
        return value
    tensor = torch.tensor([value], dtype=torch.int64, device=_comm_device())
    _guarded(lambda: dist.broadcast(tensor, src=0))
    return int(tensor.item())


def barrier() -> None:
    if is_distributed():
        _guarded(lambda: dist.barrier())


def write_on_main(write: Callable[[], T]) -> T | None:
    """Run `write` on rank 0 only (every rank would write the same file), then let the others wait for it,
    so that a file saved here can be read by every rank next."""
    result = write() if is_main_process() else None
    barrier()
    return result


def _guarded(op: Callable[[], object]) -> None:
    try:
        op()
    except Exception as error:
        _raise_explained(error)


def _raise_explained(error: Exception) -> None:
    explained = explain(error)
    if explained is error:
        raise error
    raise explained from error


# ---- who is gone ------------------------------------------------------------------------------------------


class _Heartbeat:
    """Each rank adds 1 to its counter in the rendezvous store every `interval` seconds from a thread; a
    counter that stops moving names the rank that died or hangs (a hung process's threads stop too, a
    stuck collective does not stop them)."""

    def __init__(self, my_rank: int, world: int, timeout: float) -> None:
        self.rank, self.world = my_rank, world
        self.interval = min(1.0, max(timeout / 20, 0.05))
        self.store = dist.distributed_c10d._get_default_store()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="cardlab-heartbeat", daemon=True)
        self._thread.start()

    @staticmethod
    def key(r: int) -> str:
        return f"cardlab/heartbeat/{r}"

    def _beat(self) -> None:
        while not self._stop.is_set():
            try:
                self.store.add(self.key(self.rank), 1)
            except Exception:  # the store is gone; `lost_ranks` reports it
                return
            self._stop.wait(self.interval)

    def counters(self) -> list[int]:
        return [int(self.store.add(self.key(r), 0)) for r in range(self.world)]

    def lost_ranks(self) -> list[int] | None:
        """Ranks whose heartbeat did not move over a few intervals; None when the store cannot be reached."""
        try:
            before = self.counters()
            time.sleep(3 * self.interval)
            after = self.counters()
        except Exception:
            return None
        return [r for r in range(self.world) if r != self.rank and after[r] == before[r]]

    def stop(self) -> None:
        self._stop.set()


def explain(error: BaseException) -> BaseException:
    """A collective's failure as a DistributedError naming the lost rank(s); any other error unchanged."""
    if isinstance(error, DistributedError) or _heartbeat is None or not _is_collective_error(error):
        return error
    me, world = _heartbeat.rank, _heartbeat.world
    lost = _heartbeat.lost_ranks()
    if lost is None:
        where = os.environ.get("MASTER_ADDR", "?") + ":" + os.environ.get("MASTER_PORT", "?")
        host = "the launcher (torchrun) of the first node" if _agent_store() else "rank 0"
        return DistributedError(
            f"lost the distributed run's rendezvous store at {where}: {host} is gone; rank {me} of {world} "
            f"stops ({_first_line(error)})"
        )
    if not lost:
        return error  # every rank is alive: not a lost-rank failure
    names = ", ".join(str(r) for r in lost)
    return DistributedError(
        f"lost rank {names} of the distributed run (it died or stopped responding); rank {me} of {world} "
        f"stops ({_first_line(error)})"
    )


def _is_collective_error(error: BaseException) -> bool:
    base = getattr(dist, "DistError", None)
    return (base is not None and isinstance(error, base)) or isinstance(error, RuntimeError | OSError)


def _agent_store() -> bool:
    return os.environ.get("TORCHELASTIC_USE_AGENT_STORE", "").lower() == "true"


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:200]


# ---- loaders ----------------------------------------------------------------------------------------------


def shard_loader(dl: Any, my_rank: int, world: int, seed: int, train: bool) -> Any:
    """This rank's part of `dl` (see the module's doc). `seed` must be the same on every rank."""
    from engine.data import TensorLoader
    from engine.text.data import LMDataLoader

    if world == 1:
        return dl
    if hasattr(dl, "shard"):
        return dl.shard(my_rank, world, seed, train)
    if isinstance(dl, LMDataLoader):
        return ShardedLMLoader(dl, my_rank, world, seed, train)
    if isinstance(dl, DataLoader):
        return _shard_torch_loader(dl, my_rank, world, seed, train)
    if hasattr(dl, "batch_indices") and hasattr(dl, "collate") or isinstance(dl, TensorLoader):
        return ShardedIndexLoader(dl, my_rank, world, seed, train)
    raise TypeError(
        f"cannot split a {type(dl).__name__} across processes: give it batch_indices(seed) and "
        "collate(rows), or a shard(rank, world, seed, train) method"
    )


def _check_divides(batch_size: int, world: int, what: str) -> int:
    if batch_size % world:
        raise ValueError(
            f"the {what} ({batch_size}) does not split evenly over {world} processes: "
            f"use a multiple of {world}"
        )
    return batch_size // world


class ShardedIndexLoader:
    """Rank `rank`'s rows of each batch of an index loader: rows rank, rank+world, ... of the batch."""

    def __init__(self, dl: Any, my_rank: int, world: int, seed: int, train: bool) -> None:
        self.dl, self.rank, self.world, self.seed, self.train = dl, my_rank, world, seed, train
        if train:
            _check_divides(dl.batch_size, world, "batch size")
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.dl)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        batches = list(self.dl.batch_indices(self.seed + self.epoch))
        self.epoch += 1
        head = np.concatenate(batches) if batches else np.zeros(0, dtype=np.int64)
        for rows in batches:
            mine = self.rows_of(np.asarray(rows), head)
            if len(mine):
                yield self.dl.collate(mine)

    def rows_of(self, rows: np.ndarray, head: np.ndarray) -> np.ndarray:
        if self.train and len(rows) % self.world:  # pad from the epoch's first rows, as DistributedSampler
            missing = self.world - len(rows) % self.world
            rows = np.concatenate([rows, np.resize(head, missing)])
        return rows[self.rank :: self.world]

    def __repr__(self) -> str:
        return f"ShardedIndexLoader({self.dl!r}, rank {self.rank} of {self.world})"


class ShardedLMLoader:
    """Rank `rank`'s contiguous rows of the language-model stream; the same document order on every rank."""

    def __init__(self, dl: Any, my_rank: int, world: int, seed: int, train: bool) -> None:
        self.dl, self.rank, self.world, self.seed = dl, my_rank, world, seed
        if train:
            per_rank = _check_divides(dl.bs, world, "language model's batch size (bs)")
            self.rows = range(my_rank * per_rank, (my_rank + 1) * per_rank)
        else:  # validation: as even as it goes, some ranks may get none
            mine = np.array_split(np.arange(dl.bs), world)[my_rank]
            self.rows = range(int(mine[0]), int(mine[-1]) + 1) if len(mine) else range(0)
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.dl) if len(self.rows) else 0

    @property
    def tokens_per_epoch(self) -> int:
        return len(self.rows) * self.dl.row_len

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        seed = self.seed + self.epoch
        self.epoch += 1
        if len(self.rows):
            yield from self.dl.iter_rows(self.rows.start, self.rows.stop, seed=seed)

    def __repr__(self) -> str:
        return f"ShardedLMLoader(rows {self.rows.start}-{self.rows.stop - 1} of {self.dl!r})"


class _EpochSampler(DistributedSampler):
    """DistributedSampler whose epoch moves on by itself at every pass."""

    def __iter__(self) -> Iterator[int]:
        indices = super().__iter__()
        self.set_epoch(self.epoch + 1)
        return indices


def _shard_torch_loader(dl: DataLoader, my_rank: int, world: int, seed: int, train: bool) -> DataLoader:
    if dl.batch_size is None:
        raise TypeError("cannot split a DataLoader with a batch_sampler across processes: give it batch_size")
    options: dict[str, Any] = dict(
        collate_fn=dl.collate_fn, num_workers=dl.num_workers, pin_memory=dl.pin_memory, drop_last=dl.drop_last
    )
    if not train:  # every row once: a strided subset, no padding
        subset = Subset(dl.dataset, range(my_rank, len(dl.dataset), world))  # type: ignore[arg-type]
        return DataLoader(subset, batch_size=max(1, math.ceil(dl.batch_size / world)), **options)
    per_rank = _check_divides(dl.batch_size, world, "batch size")
    shuffle = isinstance(dl.sampler, RandomSampler)
    sampler = _EpochSampler(dl.dataset, world, my_rank, shuffle=shuffle, seed=seed)
    return DataLoader(dl.dataset, batch_size=per_rank, sampler=sampler, **options)


# ---- the callback -----------------------------------------------------------------------------------------


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
