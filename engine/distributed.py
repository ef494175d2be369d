"""The process group of a multi-process run: ranks, set-up and teardown, collectives with heartbeats.

Training on several processes uses torch.distributed, launched by torchrun:

    torchrun --nproc-per-node 8 train.py      # every Learner built under torchrun trains distributed
    with learn.distributed():                 # or explicitly, fastai's `distrib_ctx`
        learn.fit_one_cycle(1, 1e-2)

One process per device: backend nccl on CUDA (each process on its `LOCAL_RANK` GPU), gloo on CPU. This
module is the group alone and imports nothing of the training loop; the `DistributedTrainer` callback
(engine.callbacks.distributed) keeps the ranks' models in step for each fit (DDP on CUDA; on a CPU the
collectives below, `broadcast_tensors` and `average_gradients`) and hands each rank its shard of every
loader (engine.sharding).

Rank 0 alone writes files (`write_on_main`) and reports (EventStream, ProgressPrinter). A rank that dies or
hangs: every rank counts a heartbeat in the rendezvous store; a failed or timed-out collective (the group's
timeout, `CARDLAB_DIST_TIMEOUT` seconds, default 600) is turned into a `DistributedError` naming the rank
whose heartbeat stopped. `teardown()` destroys the process group on every exit path.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import NoReturn, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor

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
    _SharedSlots.forget()
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


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


def agreed_stop(training: bool, flag: bool) -> bool:
    """A cancel request, agreed by every rank at the same training batch (`training`: the learner is in
    its training pass). Validation shards differ in length, so a request seen while validating waits for
    the next training batch."""
    if not is_distributed():
        return flag
    return any_rank(flag) if training else False


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


def broadcast_tensors(tensors: Sequence[Tensor]) -> None:
    """Rank 0's values copied into `tensors` on every rank (e.g. a model's weights at the start of a fit)."""
    if is_distributed():
        _flat_collective(list(tensors), lambda flat: dist.broadcast(flat, src=0))


def average_gradients(params: Sequence[Tensor]) -> None:
    """Each parameter's `.grad` becomes its mean over the ranks: DDP's arithmetic (each rank's gradient
    divided by the world size, then summed). A rank that gave a parameter no gradient adds zeros; a
    parameter no rank gave one keeps None, so the optimizer skips it as before.

    Ranks on one machine sum float32 CPU gradients in shared memory (`_SharedSlots`); otherwise one gloo
    or nccl all-reduce per dtype does it. Both give the same bits with two ranks."""
    if not is_distributed():
        return
    share = 1.0 / world_size()
    slots = _shared_slots_for(params)
    if slots is not None:
        slots.average(params, share)
        return
    grads = [p.grad.mul_(share) if p.grad is not None else torch.zeros_like(p) for p in params]
    used = torch.tensor([p.grad is not None for p in params], dtype=torch.float32, device=_comm_device())
    _flat_collective([*grads, used], lambda flat: dist.all_reduce(flat, op=dist.ReduceOp.SUM))
    _adopt_summed(params, grads, used.tolist())


def _adopt_summed(params: Sequence[Tensor], sums: Sequence[Tensor], used: Sequence[float]) -> None:
    """A parameter without a gradient here takes the summed one where some rank had one."""
    for param, summed, any_used in zip(params, sums, used):
        if param.grad is None and any_used:
            param.grad = summed


def check_same_sizes(tensors: Sequence[Tensor], what: str) -> None:
    """A DistributedError on every rank unless every rank holds as many `tensors` with as many values."""
    if not is_distributed():
        return
    mine = [float(len(tensors)), float(sum(t.numel() for t in tensors))]
    extremes = torch.tensor([*mine, *(-value for value in mine)], dtype=torch.float64, device=_comm_device())
    _guarded(lambda: dist.all_reduce(extremes, op=dist.ReduceOp.MAX))  # the largest, and minus the smallest
    highest, lowest = extremes[:2].tolist(), (-extremes[2:]).tolist()
    if highest != lowest:
        raise DistributedError(
            f"the ranks hold different {what} ({int(lowest[0])} to {int(highest[0])} tensors, "
            f"{int(lowest[1])} to {int(highest[1])} values): build the same model on every rank"
        )


def _flat_collective(tensors: list[Tensor], op: Callable[[Tensor], object]) -> None:
    """`op` run on one flat copy of the tensors of each dtype, the result copied back into them."""
    by_dtype: dict[torch.dtype, list[Tensor]] = {}
    for tensor in tensors:
        by_dtype.setdefault(tensor.dtype, []).append(tensor)
    for dtype in sorted(by_dtype, key=str):  # the same order on every rank
        group = by_dtype[dtype]
        flat = torch.cat([t.detach().reshape(-1) for t in group])
        _guarded(functools.partial(op, flat))
        with torch.no_grad():
            for tensor, part in zip(group, _views_of(flat, group)):
                tensor.copy_(part)


def _views_of(flat: Tensor, tensors: Sequence[Tensor]) -> list[Tensor]:
    """Consecutive views of `flat` from its start, one shaped like each of `tensors`."""
    views, offset = [], 0
    for tensor in tensors:
        views.append(flat[offset : offset + tensor.numel()].view_as(tensor))
        offset += tensor.numel()
    return views


# ---- gradients summed in shared memory (every rank on one machine) ---------------------------------------

SHARED_MEMORY_DIR = Path("/dev/shm")


class _SharedSlots:
    """A float32 file in shared memory that every rank maps: one slot of `n` values per rank, then their sum.

    On a CPU, gloo's all-reduce sends the gradients over TCP through the kernel even between processes of
    one machine: a median of 12-13 ms for the benchmark LM's 2.77 M values against 4.7-5.4 ms this way (2
    ranks, this project's 2-core machine). Each rank writes its share of every gradient into its slot, sums
    its part of every slot after a barrier, and reads the whole sum back after a second one. Summing slot 0
    then slot 1 is the addition gloo does with two ranks, so the results are the same bits.
    """

    current: _SharedSlots | None = None  # the slots of the latest size; one model trains at a time
    unavailable = False  # the ranks found they share no memory: gloo from then on
    _created = 0  # slots made in this process group, the same count on every rank: names their store key

    def __init__(self, n: int, values: Tensor) -> None:
        self.n, self.values = n, values

    @classmethod
    def forget(cls) -> None:
        """At teardown: the next process group starts without slots."""
        cls.current, cls.unavailable, cls._created = None, False, 0

    @classmethod
    def of_size(cls, n: int) -> _SharedSlots | None:
        """This size's slots, mapped by every rank (a collective the first time); None without shared memory."""
        if cls.current is not None and cls.current.n == n:
            return cls.current
        if cls.unavailable:
            return None
        cls.current = None
        values = _map_shared_file((world_size() + 1) * n, f"cardlab/shared-slots/{cls._created}")
        cls._created += 1
        cls.unavailable = values is None
        cls.current = None if values is None else cls(n, values)
        return cls.current

    def slot(self, index: int) -> Tensor:
        return self.values[index * self.n : (index + 1) * self.n]

    def average(self, params: Sequence[Tensor], share: float) -> None:
        """Each slot holds a rank's gradients, then one used-flag per parameter."""
        mine, flags = self.slot(rank()), slice(self.n - len(params), self.n)
        for param, view in zip(params, _views_of(mine, params)):
            if param.grad is None:
                view.zero_()
            else:
                torch.mul(param.grad, share, out=view)
        mine[flags] = torch.tensor([p.grad is not None for p in params], dtype=torch.float32)
        barrier()  # every slot written
        self._sum_my_part()
        barrier()  # every part summed
        summed = self.slot(world_size())
        sums = [
            param.grad.copy_(view) if param.grad is not None else view.clone()
            for param, view in zip(params, _views_of(summed, params))
        ]
        _adopt_summed(params, sums, summed[flags].tolist())

    def _sum_my_part(self) -> None:
        world, part = world_size(), -(-self.n // world_size())
        start, stop = rank() * part, min(self.n, (rank() + 1) * part)
        total = self.slot(world)[start:stop]
        torch.add(self.slot(0)[start:stop], self.slot(1)[start:stop], out=total)
        for other in range(2, world):
            total.add_(self.slot(other)[start:stop])


def _shared_slots_for(params: Sequence[Tensor]) -> _SharedSlots | None:
    """Slots for these parameters' gradients (and a used-flag each) where they can go through shared memory."""
    if dist.get_backend() != "gloo":
        return None
    if not all(_cpu_float32(p) and (p.grad is None or _cpu_float32(p.grad)) for p in params):
        return None
    return _SharedSlots.of_size(sum(p.numel() for p in params) + len(params))


def _cpu_float32(tensor: Tensor) -> bool:
    return tensor.device.type == "cpu" and tensor.dtype == torch.float32 and tensor.layout == torch.strided


def _map_shared_file(count: int, key: str) -> Tensor | None:
    """`count` float32 values in a file rank 0 creates in shared memory and every rank maps; None on every
    rank unless every rank mapped that very file (ranks on several machines, or in containers that do not
    share /dev/shm, or too little room there). The file is unlinked once mapped, so nothing outlives the
    ranks."""
    store = dist.distributed_c10d._get_default_store()
    if is_main_process():
        mark = os.urandom(16)  # written at the file's start: tells rank 0's file from any other
        path = _create_shared_file(count * 4, mark)
        store.set(key, f"{path}\n{mark.hex()}" if path else "")
    else:
        path, _, hex_mark = _store_get(store, key).partition("\n")
        mark = bytes.fromhex(hex_mark)
    values = _open_shared_file(path, count, mark) if path else None
    try:
        everyone = all_reduce_sum([0.0 if values is None else 1.0])[0] == world_size()
    finally:
        if is_main_process():  # every rank has opened the file or given up (the all-reduce above)
            _remove_shared_file(store, key, path)
    return values if everyone else None


def _remove_shared_file(store: dist.Store, key: str, path: str) -> None:
    if path:
        with contextlib.suppress(OSError):
            os.unlink(path)
    with contextlib.suppress(Exception):  # a store without delete_key keeps the key, unused
        store.delete_key(key)


def _store_get(store: dist.Store, key: str) -> str:
    try:
        return bytes(store.get(key)).decode()
    except Exception as error:  # rank 0 is gone before it could say
        _raise_explained(error)


def _create_shared_file(size: int, mark: bytes) -> str:
    """A new file of `size` bytes starting with `mark`, its room reserved, in the shared-memory folder; ""
    where that fails (a mapped page beyond a full tmpfs would kill the process with SIGBUS, not raise)."""
    try:
        fd, path = tempfile.mkstemp(prefix="cardlab-grads-", dir=SHARED_MEMORY_DIR)
    except OSError:
        return ""
    try:
        os.posix_fallocate(fd, 0, size)
        os.pwrite(fd, mark, 0)
    except (OSError, AttributeError):  # no room, or no posix_fallocate on this platform
        os.unlink(path)
        return ""
    finally:
        os.close(fd)
    return path


def _open_shared_file(path: str, count: int, mark: bytes) -> Tensor | None:
    """The file mapped, if it is rank 0's: there, of its size, starting with its mark. Checked first because
    mapping a missing path would create it (on another machine: a file of zeros nobody else writes)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # another machine or container
        return None
    try:
        if os.fstat(fd).st_size != count * 4 or os.pread(fd, len(mark), 0) != mark:
            return None
    finally:
        os.close(fd)
    try:
        return torch.from_file(path, shared=True, size=count, dtype=torch.float32)
    except (OSError, RuntimeError):
        return None


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


def _raise_explained(error: Exception) -> NoReturn:
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
