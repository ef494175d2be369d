"""Tabular data: procs fitted on the training rows, splits, and in-memory tensor loaders.

    data = tabular_data(df, cat_names=[...], cont_names=[...], y_name="salary",
                        procs=[FillMissing, Categorify, Normalize], valid_idx=range(800, 1000))
    data.dls                      # DataLoaders; batches are (cats int64 [bs, n_cat], conts float32 [bs, n_cont], y)
    data.show_processed(df.iloc[0])   # the row after the procs: `_na` columns and category codes

Splits (all positional, like `df.iloc`): `valid_idx=...`, or `splits=` one of
`split_by_idx(valid_idx)`, `split_by_date("date", valid_from=None, valid_pct=0.2)`,
`random_split(valid_pct=0.2, seed=42)`, or a `(train_idx, valid_idx)` pair.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from engine.data import DataLoaders, TensorLoader
from engine.tabular.procs import (
    NA_SUFFIX,
    Categorify,
    FillMissing,
    Normalize,
    ProcessedFrame,
    TabularProc,
    TabularProcessor,
)

Split = tuple[np.ndarray, np.ndarray]
Splitter = Callable[[pd.DataFrame], Split]
DEFAULT_PROCS: tuple[type[TabularProc], ...] = (FillMissing, Categorify, Normalize)


def _complement(n_rows: int, valid: np.ndarray) -> Split:
    mask = np.zeros(n_rows, dtype=bool)
    mask[valid] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def split_by_idx(valid_idx: Iterable[int]) -> Splitter:
    """Validation = the rows at these positions (e.g. the lesson's contiguous block `range(800, 1000)`)."""
    valid = np.asarray(list(valid_idx), dtype=np.int64)

    def split(df: pd.DataFrame) -> Split:
        if len(valid) == 0:
            raise ValueError("split_by_idx: the validation index list is empty")
        if valid.min() < 0 or valid.max() >= len(df):
            raise ValueError(f"split_by_idx: indices must lie in 0..{len(df) - 1} (positions, like df.iloc)")
        return _complement(len(df), valid)

    return split


def split_by_date(date_col: str, valid_from: Any = None, valid_pct: float = 0.2) -> Splitter:
    """Validation = the last period: rows dated on or after `valid_from`.

    Without `valid_from`, the cut is the date at which the last `valid_pct` of rows (in date order) begins,
    so no date straddles the two sets. This mimics predicting the future from the past.
    """

    def split(df: pd.DataFrame) -> Split:
        if date_col not in df.columns:
            raise ValueError(f"split_by_date: no column '{date_col}' (columns: {list(df.columns)})")
        dates = pd.to_datetime(df[date_col])
        cut = (
            pd.Timestamp(valid_from)
            if valid_from is not None
            else dates.sort_values().iloc[min(len(df) - 1, int(len(df) * (1 - valid_pct)))]
        )
        valid = np.flatnonzero((dates >= cut).to_numpy())
        if len(valid) in (0, len(df)):
            raise ValueError(
                f"split_by_date: cutting at {cut.date()} leaves an empty training or validation set"
            )
        return _complement(len(df), valid)

    return split


def random_split(valid_pct: float = 0.2, seed: int = 42) -> Splitter:
    """Validation = a random `valid_pct` of the rows, the same for the same seed."""
    if not 0 < valid_pct < 1:
        raise ValueError(f"random_split: valid_pct must be between 0 and 1, not {valid_pct}")

    def split(df: pd.DataFrame) -> Split:
        order = np.random.default_rng(seed).permutation(len(df))
        return _complement(len(df), np.sort(order[: max(1, round(len(df) * valid_pct))]))

    return split


def _resolve_split(
    df: pd.DataFrame, valid_idx: Iterable[int] | None, splits: Splitter | Split | None
) -> Split:
    if valid_idx is not None and splits is not None:
        raise ValueError("give either valid_idx or splits, not both")
    if valid_idx is not None:
        return split_by_idx(valid_idx)(df)
    if splits is None:
        return random_split()(df)
    if callable(splits):
        return splits(df)
    train, valid = splits
    return np.asarray(list(train), dtype=np.int64), np.asarray(list(valid), dtype=np.int64)


def row_frame(row: Mapping[str, Any] | pd.Series | pd.DataFrame) -> pd.DataFrame:
    """One or more rows as a DataFrame (a dict or a pandas row gives a one-row frame)."""
    if isinstance(row, pd.DataFrame):
        return row
    if isinstance(row, pd.Series):
        return row.to_frame().T.infer_objects()
    if isinstance(row, Mapping):
        return pd.DataFrame([dict(row)])
    raise TypeError(f"a row must be a dict, a pandas Series or a DataFrame, not {type(row).__name__}")


@dataclass
class TabularData:
    """Processed tabular data: the fitted processor, the target's classes, the split and the loaders."""

    processor: TabularProcessor
    y_name: str
    classes: list[Any] | None  # None for regression
    train_idx: np.ndarray
    valid_idx: np.ndarray
    dls: DataLoaders

    @property
    def is_regression(self) -> bool:
        return self.classes is None

    @property
    def cat_names(self) -> list[str]:
        """Categorical columns the model sees (including FillMissing's `_na` columns)."""
        return list(self.processor.names.cats)

    @property
    def cont_names(self) -> list[str]:
        return list(self.processor.names.conts)

    def process(self, rows: Mapping[str, Any] | pd.Series | pd.DataFrame) -> ProcessedFrame:
        """Rows (dict, Series or DataFrame) after the fitted procs, with notes on anything filled."""
        return self.processor.transform(row_frame(rows))

    def show_processed(self, row: Mapping[str, Any] | pd.Series | pd.DataFrame) -> pd.DataFrame:
        """A table of one row before and after the procs: one line per model input column.

        Columns: `column`, `kind` (cat/cont), `raw` (as given, `<absent>` if missing from the row),
        `processed` (category code or normalised number) and `meaning` (the category a code stands for).
        """
        frame = row_frame(row)
        if len(frame) != 1:
            raise ValueError(f"show_processed takes one row, got {len(frame)}")
        processed = self.process(frame)
        categorify = self.processor.categorify
        lines: list[tuple[str, str, Any, Any, Any]] = []
        for i, col in enumerate(self.cat_names):
            code = int(processed.cats[0, i])
            meaning = categorify.decode(col, code) if categorify is not None else code
            lines.append((col, "cat", self._raw(frame, col), code, meaning))
        for i, col in enumerate(self.cont_names):
            lines.append((col, "cont", self._raw(frame, col), round(float(processed.conts[0, i]), 4), ""))
        table = pd.DataFrame(lines, columns=["column", "kind", "raw", "processed", "meaning"], dtype=object)
        table.attrs["notes"] = processed.notes
        return table

    def _raw(self, frame: pd.DataFrame, col: str) -> Any:
        if col in frame.columns:
            return frame[col].iloc[0]
        is_derived = col.endswith(NA_SUFFIX) and col[: -len(NA_SUFFIX)] in self.processor.input_names.conts
        return "(added by FillMissing)" if is_derived else "<absent>"


def _target(y: pd.Series, is_regression: bool | None) -> tuple[torch.Tensor, list | None]:
    if y.isna().any():
        raise ValueError(
            f"target column '{y.name}' has {int(y.isna().sum())} missing values: drop those rows"
        )
    if is_regression is None:
        is_regression = pd.api.types.is_float_dtype(y)
    if is_regression:
        return torch.tensor(y.to_numpy(dtype=np.float32)).unsqueeze(1), None
    classes = sorted(y.unique(), key=lambda v: (type(v).__name__, v))
    lookup = {v: i for i, v in enumerate(classes)}
    return torch.tensor(y.map(lookup).to_numpy(dtype=np.int64)), classes


def tabular_data(
    df: pd.DataFrame,
    cat_names: Sequence[str],
    cont_names: Sequence[str],
    y_name: str,
    procs: Iterable[TabularProc | type[TabularProc]] = DEFAULT_PROCS,
    valid_idx: Iterable[int] | None = None,
    splits: Splitter | Split | None = None,
    bs: int = 64,
    valid_bs: int | None = None,
    is_regression: bool | None = None,
    seed: int | None = None,
) -> TabularData:
    """Fit the procs on the training rows, process every row once, and build in-memory loaders.

    The target is a class label (classification) unless it is a float column or `is_regression=True`.
    Without `valid_idx` or `splits`, a seeded random 20% of rows is the validation set.
    """
    missing = [c for c in [*cat_names, *cont_names, y_name] if c not in df.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the data (it has {list(df.columns)})")
    df = df.reset_index(drop=True)
    train_idx, valid_idx_arr = _resolve_split(df, valid_idx, splits)
    if len(train_idx) == 0 or len(valid_idx_arr) == 0:
        raise ValueError("the split leaves an empty training or validation set")
    processor = TabularProcessor(procs, cat_names, cont_names).fit(df.iloc[train_idx])
    processed = processor.transform(df)
    cats, conts = torch.from_numpy(processed.cats), torch.from_numpy(processed.conts)
    y, classes = _target(df[y_name], is_regression)
    loaders = split_loaders((cats, conts, y), train_idx, valid_idx_arr, bs, valid_bs=valid_bs, seed=seed)
    return TabularData(processor, y_name, classes, train_idx, valid_idx_arr, loaders)


def split_loaders(
    tensors: Sequence[torch.Tensor],
    train_idx: np.ndarray,
    valid_idx: np.ndarray,
    bs: int,
    valid_bs: int | None = None,
    seed: int | None = None,
) -> DataLoaders:
    """Loaders over rows `train_idx` and `valid_idx` of `tensors`: the training one shuffled (by `seed`)
    and, when it has more than one batch, dropping its last, which keeps BatchNorm away from a final batch
    of one row. Models fed other tensors of the same rows take the same number of steps."""
    train_t, valid_t = torch.from_numpy(train_idx), torch.from_numpy(valid_idx)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    train = TensorLoader(
        *(t[train_t] for t in tensors),
        batch_size=bs,
        shuffle=True,
        drop_last=len(train_idx) > bs,
        generator=generator,
    )
    valid = TensorLoader(*(t[valid_t] for t in tensors), batch_size=valid_bs or 2 * bs)
    return DataLoaders(train, valid)
