"""Tabular preprocessing: FillMissing, Categorify, Normalize.

Every proc is *fitted on the training rows only* (medians, category lists, means and standard deviations come
from training data) and then applied unchanged to validation rows and to single rows at inference time.

    processor = TabularProcessor([FillMissing, Categorify, Normalize], cat_names, cont_names)
    processor.fit(train_df)                 # learns the statistics, may add `<col>_na` categorical columns
    frame = processor.transform(any_df)     # ProcessedFrame(cats: int64 [n, n_cat], conts: float32 [n, n_cont])
    frame.notes                             # what had to be filled or was never seen, in plain words

A proc class or an instance may be given (`FillMissing` or `FillMissing(strategy="mean")`). A column that is
absent (or missing only at inference) is filled and reported in `notes`, never a crash.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

NA_CATEGORY = "#na#"
NA_SUFFIX = "_na"


@dataclass
class ColumnNames:
    """The categorical and continuous columns the model sees; procs may add columns (FillMissing's `_na`)."""

    cats: list[str]
    conts: list[str]


class TabularProc:
    """Base class: `setup` learns from training rows, `apply` transforms a frame (a copy it may modify).

    `order` fixes when a proc runs whatever the list order: FillMissing, then Categorify, then Normalize.
    """

    order = 0

    def setup(self, train: pd.DataFrame, names: ColumnNames) -> None:
        raise NotImplementedError

    def apply(self, df: pd.DataFrame, names: ColumnNames, notes: list[str]) -> pd.DataFrame:
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        """Plain, serialisable fitted state (str/float/list/dict only)."""
        raise NotImplementedError

    def load_state(self, state: dict[str, Any]) -> None:
        raise NotImplementedError


def _as_number_column(df: pd.DataFrame, col: str, notes: list[str]) -> pd.Series:
    """The column as floats; absent columns become all-missing, non-numbers become missing (both noted)."""
    if col not in df.columns:
        notes.append(f"column '{col}' is absent: treated as missing")
        return pd.Series(np.nan, index=df.index, dtype="float64")
    raw = df[col]
    values = pd.to_numeric(raw, errors="coerce").astype("float64")
    bad = values.isna() & raw.notna()
    if bad.any():
        examples = ", ".join(repr(v) for v in raw[bad].unique()[:3])
        notes.append(f"column '{col}': {examples} is not a number: treated as missing")
    return values


class FillMissing(TabularProc):
    """Fill missing continuous values with the training median (or mean, or a constant).

    For each continuous column that had missing values in *training*, adds a categorical column
    `<col>_na` (True where the value was missing), so the model can learn that missingness itself matters.
    A column that is missing only at inference is filled the same way and reported in the notes.
    """

    order = 1

    def __init__(self, strategy: str = "median", fill_value: float = 0.0, add_col: bool = True) -> None:
        if strategy not in ("median", "mean", "constant"):
            raise ValueError(f"FillMissing strategy must be 'median', 'mean' or 'constant', not {strategy!r}")
        self.strategy, self.fill_value, self.add_col = strategy, fill_value, add_col
        self.fill: dict[str, float] = {}
        self.na_cols: list[str] = []  # continuous columns that had missing values in training

    def setup(self, train: pd.DataFrame, names: ColumnNames) -> None:
        scratch: list[str] = []
        self.fill, self.na_cols = {}, []
        for col in names.conts:
            values = _as_number_column(train, col, scratch)
            self.fill[col] = self._statistic(values)
            if values.isna().any():
                self.na_cols.append(col)
        if self.add_col:
            names.cats.extend(c + NA_SUFFIX for c in self.na_cols if c + NA_SUFFIX not in names.cats)

    def _statistic(self, values: pd.Series) -> float:
        if self.strategy == "constant" or values.notna().sum() == 0:
            return float(self.fill_value)
        stat = values.median() if self.strategy == "median" else values.mean()
        return float(stat)

    def apply(self, df: pd.DataFrame, names: ColumnNames, notes: list[str]) -> pd.DataFrame:
        for col, fill in self.fill.items():
            absent = col not in df.columns
            values = pd.Series(np.nan, index=df.index) if absent else _as_number_column(df, col, notes)
            missing = values.isna()
            if self.add_col and col in self.na_cols:
                df[col + NA_SUFFIX] = missing.to_numpy()
            if absent:
                notes.append(f"column '{col}' is absent: filled with the training {self.strategy} {fill:g}")
            elif missing.any() and col not in self.na_cols:
                notes.append(
                    f"column '{col}' had no missing values in training; {int(missing.sum())} filled "
                    f"with the training {self.strategy} {fill:g}"
                )
            df[col] = values.fillna(fill).astype("float64")
        return df

    def state(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "fill_value": self.fill_value,
            "add_col": self.add_col,
            "fill": dict(self.fill),
            "na_cols": list(self.na_cols),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.strategy, self.fill_value, self.add_col = (
            state["strategy"],
            state["fill_value"],
            state["add_col"],
        )
        self.fill, self.na_cols = dict(state["fill"]), list(state["na_cols"])


def _category_key(value: Any) -> Any:
    """Normalise a category value so 3, 3.0 and np.int64(3) all match, and strings lose stray spaces."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
        return int(number) if number.is_integer() else number
    return value


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists and other containers are not "missing"
        return False


class Categorify(TabularProc):
    """Map each categorical column to integer codes; code 0 is `#na#`, for missing and never-seen values.

    The category list of each column comes from the training rows only, in sorted order.
    """

    order = 2

    def __init__(self) -> None:
        self.classes: dict[str, list[Any]] = {}
        self._codes: dict[str, dict[Any, int]] = {}

    def setup(self, train: pd.DataFrame, names: ColumnNames) -> None:
        self.classes = {}
        for col in names.cats:
            if col not in train.columns:
                raise ValueError(f"categorical column '{col}' is not in the training data")
            seen = {_category_key(v) for v in train[col].unique() if not _is_missing(v)}
            self.classes[col] = [NA_CATEGORY, *sorted(seen, key=lambda v: (type(v).__name__, v))]
        self._build_lookup()

    def _build_lookup(self) -> None:
        self._codes = {col: {v: i for i, v in enumerate(vals) if i > 0} for col, vals in self.classes.items()}

    def apply(self, df: pd.DataFrame, names: ColumnNames, notes: list[str]) -> pd.DataFrame:
        for col, lookup in self._codes.items():
            if col not in df.columns:
                notes.append(f"column '{col}' is absent: treated as {NA_CATEGORY}")
                df[col] = 0
                continue
            uniques = df[col].unique()
            code_of = {v: (0 if _is_missing(v) else lookup.get(_category_key(v), 0)) for v in uniques}
            unseen = [v for v in uniques if not _is_missing(v) and _category_key(v) not in lookup]
            if unseen:
                shown = ", ".join(repr(v) for v in unseen[:3]) + (" ..." if len(unseen) > 3 else "")
                notes.append(f"column '{col}': {shown} never seen in training: treated as {NA_CATEGORY}")
            df[col] = df[col].map(code_of).astype("int64")
        return df

    def state(self) -> dict[str, Any]:
        return {"classes": {c: list(v) for c, v in self.classes.items()}}

    def load_state(self, state: dict[str, Any]) -> None:
        self.classes = {c: list(v) for c, v in state["classes"].items()}
        self._build_lookup()

    def decode(self, col: str, code: int) -> Any:
        return self.classes[col][code]


class Normalize(TabularProc):
    """Scale continuous columns with the training mean and standard deviation."""

    order = 3

    def __init__(self, eps: float = 1e-7) -> None:
        self.eps = eps
        self.means: dict[str, float] = {}
        self.stds: dict[str, float] = {}

    def setup(self, train: pd.DataFrame, names: ColumnNames) -> None:
        scratch: list[str] = []
        self.means, self.stds = {}, {}
        for col in names.conts:
            values = _as_number_column(train, col, scratch)
            mean, std = values.mean(), values.std(ddof=0)
            self.means[col] = 0.0 if math.isnan(mean) else float(mean)
            self.stds[col] = 1.0 if math.isnan(std) or std == 0 else float(std)

    def apply(self, df: pd.DataFrame, names: ColumnNames, notes: list[str]) -> pd.DataFrame:
        for col in self.means:
            values = _as_number_column(df, col, notes)
            df[col] = (values - self.means[col]) / (self.stds[col] + self.eps)
        return df

    def state(self) -> dict[str, Any]:
        return {"eps": self.eps, "means": dict(self.means), "stds": dict(self.stds)}

    def load_state(self, state: dict[str, Any]) -> None:
        self.eps, self.means, self.stds = state["eps"], dict(state["means"]), dict(state["stds"])


PROCS: dict[str, type[TabularProc]] = {
    "FillMissing": FillMissing,
    "Categorify": Categorify,
    "Normalize": Normalize,
}


@dataclass
class ProcessedFrame:
    """Model-ready arrays for some rows, plus what had to be filled or was unknown."""

    cats: np.ndarray  # int64 [n_rows, n_cat]
    conts: np.ndarray  # float32 [n_rows, n_cont]
    frame: pd.DataFrame  # the processed columns, for display
    notes: list[str] = field(default_factory=list)


def _instantiate(procs: Iterable[TabularProc | type[TabularProc]]) -> list[TabularProc]:
    out = []
    for proc in procs:
        if isinstance(proc, type) and issubclass(proc, TabularProc):
            out.append(proc())
        elif isinstance(proc, TabularProc):
            out.append(proc)
        else:
            raise TypeError(
                f"a proc must be FillMissing, Categorify, Normalize (class or instance), not {proc!r}"
            )
    return sorted(out, key=lambda p: p.order)


class TabularProcessor:
    """An ordered list of procs, fitted once on training rows, then applied to any rows."""

    def __init__(
        self,
        procs: Iterable[TabularProc | type[TabularProc]],
        cat_names: Sequence[str],
        cont_names: Sequence[str],
    ) -> None:
        self.procs = _instantiate(procs)
        self.input_names = ColumnNames(list(cat_names), list(cont_names))
        self.names = ColumnNames(list(cat_names), list(cont_names))
        self.fitted = False

    def fit(self, train: pd.DataFrame) -> TabularProcessor:
        """Learn every proc's statistics from the training rows (each proc sees the previous ones' output)."""
        self.names = ColumnNames(list(self.input_names.cats), list(self.input_names.conts))
        frame = train.copy()
        for proc in self.procs:
            proc.setup(frame, self.names)
            frame = proc.apply(frame, self.names, [])
        self.fitted = True
        return self

    def transform(self, df: pd.DataFrame) -> ProcessedFrame:
        """Apply the fitted procs; returns int64 category codes and float32 continuous values."""
        if not self.fitted:
            raise RuntimeError("TabularProcessor.transform called before fit(train_rows)")
        notes: list[str] = []
        frame = df.copy()
        for proc in self.procs:
            frame = proc.apply(frame, self.names, notes)
        cats = self._category_codes(frame)
        conts = self._continuous_values(frame, notes)
        return ProcessedFrame(cats, conts, frame[self.names.cats + self.names.conts], notes)

    def _category_codes(self, frame: pd.DataFrame) -> np.ndarray:
        if not self.names.cats:
            return np.zeros((len(frame), 0), dtype=np.int64)
        if self.categorify is None:
            raise ValueError("categorical columns need the Categorify proc (procs=[..., Categorify, ...])")
        return frame[self.names.cats].to_numpy(dtype=np.int64, copy=True)

    def _continuous_values(self, frame: pd.DataFrame, notes: list[str]) -> np.ndarray:
        if not self.names.conts:
            return np.zeros((len(frame), 0), dtype=np.float32)
        conts = pd.DataFrame({c: _as_number_column(frame, c, notes) for c in self.names.conts})
        if conts.isna().to_numpy().any():
            missing = [c for c in self.names.conts if conts[c].isna().any()]
            raise ValueError(
                f"continuous columns {missing} have missing values: add FillMissing to the procs"
            )
        return conts.to_numpy(dtype=np.float32, copy=True)

    @property
    def categorify(self) -> Categorify | None:
        return next((p for p in self.procs if isinstance(p, Categorify)), None)

    def category_counts(self) -> dict[str, int]:
        """Number of codes (including `#na#`) of each categorical column, in model order."""
        categorify = self.categorify
        if categorify is None:
            return {}
        return {c: len(categorify.classes[c]) for c in self.names.cats}

    def state(self) -> dict[str, Any]:
        """Serialisable fitted state: keep it with the model weights to process rows at inference."""
        return {
            "cat_names": list(self.input_names.cats),
            "cont_names": list(self.input_names.conts),
            "procs": [[type(p).__name__, p.state()] for p in self.procs],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TabularProcessor:
        procs = []
        for name, proc_state in state["procs"]:
            proc = PROCS[name]()
            proc.load_state(proc_state)
            procs.append(proc)
        processor = cls(procs, state["cat_names"], state["cont_names"])
        names = processor.names
        fill = next((p for p in procs if isinstance(p, FillMissing)), None)
        if fill is not None and fill.add_col:
            names.cats.extend(c + NA_SUFFIX for c in fill.na_cols if c + NA_SUFFIX not in names.cats)
        processor.fitted = True
        return processor
