"""What a lab declares about its inputs, checked in the app before any training (torch- and pandas-free).

    [[checks]]                                   # a constraint between parameters
    require = "window + valid_days < days"
    why = "the RNN needs `window` days of history before the validation period"
    generated_only = true                        # only when the lab generates its data

    [data]                                       # what `--data` must hold
    columns = ["userId|user", "movieId|item", "rating"]   # a CSV's header; `a|b`: either name
    min_rows = 20
    csv_name = "texts.csv"                       # the CSV inside a folder --data
    folder_files = ["u.data"]                    # else a folder must hold these text files
    folder_only = false                          # true: a file cannot work, only such a folder

A value a lab's code would only trip over deep inside training (a window longer than the series, an empty
CSV, a binary file) fails here with a message naming the parameter or the column.
"""

from __future__ import annotations

import ast
import codecs
import csv
import operator
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labs.errors import LabError

GENERATED_DATA = (
    "generated"  # `--data generated`: the lab's own generated data, even with the real one cached
)

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
}
_COMPARE: dict[type, Callable[[float, float], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_SNIFF_BYTES = 64 * 1024


# -- constraints between parameters -----------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """`require` is a comparison of arithmetic over parameter names and numbers: `a + b < c`, `x <= 2 * y`."""

    require: str
    why: str = ""
    generated_only: bool = False  # applies only when the lab generates its data (no --data)

    def names(self) -> list[str]:
        """The parameters `require` reads, in order of appearance."""
        tree = ast.parse(self.require, mode="eval")
        found = sorted((node.col_offset, node.id) for node in ast.walk(tree) if isinstance(node, ast.Name))
        return list(dict.fromkeys(name for _, name in found))

    def holds(self, values: Mapping[str, object]) -> bool:
        try:
            return bool(_evaluate(ast.parse(self.require, mode="eval").body, values))
        except ArithmeticError:  # a division by a parameter that is 0: the values cannot work
            return False

    def message(self, values: Mapping[str, object]) -> str:
        shown = ", ".join(f"{name}={values[name]}" for name in self.names())
        why = f" ({self.why})" if self.why else ""
        return f"{shown}: needs {self.require}{why}"


def parse_check(require: object, known: Collection[str]) -> str | None:
    """The problem with `require` as a check over the number parameters `known`, or None when it is fine."""
    if not isinstance(require, str) or not require.strip():
        return 'require must be a comparison of parameters, e.g. require = "a < b"'
    try:
        tree = ast.parse(require, mode="eval")
    except SyntaxError:
        return f"require {require!r} is not an expression"
    if not isinstance(tree.body, ast.Compare):
        return f"require {require!r} must be a comparison (<, <=, >, >=, ==, !=)"
    for node in ast.walk(tree.body):
        if isinstance(node, ast.Name) and node.id not in known:
            return f"require {require!r}: no int or float parameter {node.id!r}"
        if isinstance(node, ast.Constant) and not isinstance(node.value, int | float):
            return f"require {require!r}: {node.value!r} is not a number"
        if not isinstance(node, _ALLOWED):
            return f"require {require!r}: only parameters, numbers, + - * / // and comparisons are allowed"
    return None


_ALLOWED = (
    ast.Compare,
    ast.BinOp,
    ast.UnaryOp,
    ast.USub,
    ast.Name,
    ast.Constant,
    ast.Load,
    *_BINARY,
    *_COMPARE,
)


def _evaluate(node: ast.AST, values: Mapping[str, object]) -> Any:  # numbers; comparisons give bools
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, values)
        for op, right_node in zip(node.ops, node.comparators):
            right = _evaluate(right_node, values)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_evaluate(node.left, values), _evaluate(node.right, values))
    if isinstance(node, ast.UnaryOp):
        return -_evaluate(node.operand, values)
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    raise LabError(f"cannot evaluate {ast.unparse(node)!r}")  # parse_check keeps this unreachable


def check_values(checks: tuple[Check, ...], values: Mapping[str, object], generated: bool) -> None:
    """LabError naming the parameters of every check `values` break."""
    active = [check for check in checks if generated or not check.generated_only]
    broken = [check.message(values) for check in active if not check.holds(values)]
    if broken:
        raise LabError("; ".join(broken))


# -- the shape of --data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DataShape:
    columns: tuple[str, ...] = ()  # a CSV's required header columns; "userId|user" accepts either
    min_rows: int = 1
    csv_name: str | None = None  # the CSV inside a folder --data
    folder_files: tuple[str, ...] = ()  # a folder without that CSV must hold these (headerless) text files
    folder_only: bool = False  # a file --data cannot work (the lab needs the folder's other files)

    def check(self, path: Path) -> None:
        """LabError naming what `path` lacks: a file, a column, rows, or readable text."""
        if self.folder_only and not path.is_dir():
            raise LabError(
                f"{path}: this lab reads a folder holding {', '.join(self.folder_files)}, not a file"
            )
        if not path.is_dir():
            self._check_csv(path)
        elif self.csv_name and (path / self.csv_name).is_file():
            self._check_csv(path / self.csv_name)
        elif self.folder_files:
            for name in self.folder_files:
                if not (path / name).is_file():
                    expected = " or ".join(filter(None, [self.csv_name, ", ".join(self.folder_files)]))
                    raise LabError(f"{path}: no {name} in this folder (a --data folder holds {expected})")
                _check_rows(path / name, _rows(path / name), self.min_rows, header=False)

    def _check_csv(self, path: Path) -> None:
        rows = _rows(path)
        header = next(rows, None)
        if header is None:
            raise LabError(f"{path}: the file is empty; it needs a header row: {', '.join(self._wanted())}")
        missing = [want for want in self.columns if not set(want.split("|")) & set(header)]
        if missing:
            wanted = ", ".join(_spelled(want) for want in missing)
            has = ", ".join(header) or "nothing"
            raise LabError(f"{path}: no column{'s' * (len(missing) > 1)} {wanted}; its header has {has}")
        _check_rows(path, rows, self.min_rows, header=True)

    def _wanted(self) -> list[str]:
        return [_spelled(want) for want in self.columns] or ["column names"]


def _spelled(want: str) -> str:
    first, *others = want.split("|")
    return first + "".join(f" (or {other})" for other in others)


def _rows(path: Path):
    """The CSV rows of a text file; LabError when it cannot be read as UTF-8 text."""
    try:
        with path.open("rb") as file:
            head = file.read(_SNIFF_BYTES)
        if b"\0" in head:
            raise LabError(f"{path}: not a text file (it holds binary data)")
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        with path.open(encoding="utf-8", newline="") as file:
            yield from csv.reader(
                file
            )  # headerless tab-separated files read as one cell a row: rows still count
    except UnicodeDecodeError as error:
        raise LabError(f"{path}: not UTF-8 text (byte {error.start} cannot be decoded)") from None
    except csv.Error as error:
        raise LabError(f"{path}: not a readable CSV ({error})") from None
    except OSError as error:
        raise LabError(f"{path}: cannot be read ({error.strerror or error})") from None


def _check_rows(path: Path, rows, needed: int, header: bool) -> None:
    count = 0
    for row in rows:
        count += any(cell.strip() for cell in row)
        if count >= needed:
            return
    what = "data row" if header else "row"
    raise LabError(f"{path}: {count} {what}{'s' * (count != 1)}; this lab needs at least {needed}")
