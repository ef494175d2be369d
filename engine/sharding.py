"""Each rank's shard of a loader, so N processes take the same steps as one with the same settings.

The batch size of a loader stays the *global* batch:

- the language-model stream gives rank r the contiguous rows [r*b, (r+1)*b) of its bs rows (b = bs/N),
  the same document order on every rank, so each rank carries the hidden state of its own rows;
- index loaders (TensorLoader, SortedPadLoader, torch DataLoader) draw one permutation per epoch from a seed
  every rank shares and give rank r rows r, r+N, ... of each batch (the last batch padded from the start of
  the epoch's order, the DistributedSampler idea), so every rank runs the same number of batches;
- validation shards are not padded: the sums and counts of the loss and the metrics are all-reduced (by
  the DistributedTrainer), so the numbers are those of the whole validation set.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
from torch import Tensor
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, Subset


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
