"""Loaders: any iterable with __len__ yielding tuples of tensors (target last) works with the Learner.

`TensorLoader` serves in-memory tensors fast: one randperm gather per epoch, then contiguous slices, no
per-item collate. `DataLoaders` pairs a train and a valid loader.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset


class TensorLoader:
    """Batches of rows from same-length tensors; `shuffle` draws one permutation per epoch."""

    def __init__(
        self,
        *tensors: Tensor,
        batch_size: int = 64,
        shuffle: bool = False,
        drop_last: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        if not tensors:
            raise ValueError("TensorLoader needs at least one tensor")
        lengths = {len(t) for t in tensors}
        if len(lengths) != 1:
            raise ValueError(f"all tensors must have the same length, got {[len(t) for t in tensors]}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.tensors = tuple(tensors)
        self.n = lengths.pop()
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator

    def __len__(self) -> int:
        return self.n // self.batch_size if self.drop_last else math.ceil(self.n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        tensors = self.tensors
        if self.shuffle:
            order = torch.randperm(self.n, generator=self.generator).to(tensors[0].device)
            tensors = tuple(t[order] for t in tensors)
        bs = self.batch_size
        stop = len(self) * bs
        for start in range(0, stop, bs):
            yield tuple(t[start : start + bs] for t in tensors)

    def batch_indices(self, seed: int | None = None) -> list[Tensor]:
        """The rows of each batch this epoch; `seed` draws the order from it instead of the loader's own
        generator (so that every process of a distributed run draws the same one)."""
        if not self.shuffle:
            order = torch.arange(self.n)
        else:
            generator = self.generator if seed is None else torch.Generator().manual_seed(seed)
            order = torch.randperm(self.n, generator=generator)
        bs = self.batch_size
        return [order[start : start + bs] for start in range(0, len(self) * bs, bs)]

    def collate(self, rows: Tensor | Sequence[int]) -> tuple[Tensor, ...]:
        index = torch.as_tensor(rows, dtype=torch.long, device=self.tensors[0].device)
        return tuple(t[index] for t in self.tensors)

    def to(self, device: torch.device | str) -> TensorLoader:
        """Move the whole data set to `device` once (then per-batch device moves are free)."""
        self.tensors = tuple(t.to(device) for t in self.tensors)
        return self

    def __repr__(self) -> str:
        return f"TensorLoader(n={self.n}, batch_size={self.batch_size}, shuffle={self.shuffle})"


class Loader(Protocol):
    """What the Learner needs of a loader: batches to iterate over, and how many there are."""

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...


class DataLoaders:
    """A train loader and an optional valid loader."""

    train: Loader
    valid: Loader | None

    def __init__(self, train: Iterable[Any], valid: Iterable[Any] | None = None) -> None:
        for name, loader in (("train", train), ("valid", valid)):
            if loader is not None and not hasattr(loader, "__len__"):
                raise TypeError(f"the {name} loader must have __len__ (got {type(loader).__name__})")
        self.train = train  # type: ignore[assignment]  # __len__ checked above
        self.valid = valid  # type: ignore[assignment]

    def __getitem__(self, i: int) -> Loader | None:
        return (self.train, self.valid)[i]

    def __iter__(self) -> Iterator[Loader | None]:
        return iter((self.train, self.valid))

    @classmethod
    def from_tensors(
        cls,
        train: Sequence[Tensor],
        valid: Sequence[Tensor] | None = None,
        bs: int = 64,
        valid_bs: int | None = None,
        shuffle: bool = True,
        device: torch.device | str | None = None,
    ) -> DataLoaders:
        """TensorLoaders over (x..., y) tensors; `device` moves the data there once, up front."""
        train_dl = TensorLoader(*train, batch_size=bs, shuffle=shuffle)
        valid_dl = None if valid is None else TensorLoader(*valid, batch_size=valid_bs or bs)
        if device is not None:
            train_dl.to(device)
            if valid_dl is not None:
                valid_dl.to(device)
        return cls(train_dl, valid_dl)

    @classmethod
    def from_datasets(
        cls, train: Dataset, valid: Dataset | None = None, bs: int = 64, shuffle: bool = True, **kwargs: Any
    ) -> DataLoaders:
        """torch DataLoaders (kwargs go to both: num_workers, collate_fn, ...)."""
        train_dl = DataLoader(train, batch_size=bs, shuffle=shuffle, **kwargs)
        valid_dl = None if valid is None else DataLoader(valid, batch_size=bs, shuffle=False, **kwargs)
        return cls(train_dl, valid_dl)

    def __repr__(self) -> str:
        return f"DataLoaders(train={self.train!r}, valid={self.valid!r})"
