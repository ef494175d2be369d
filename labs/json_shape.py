"""Check JSON read back from disk against a dataclass's annotations, so a damaged or hand-edited file is
refused with a reason that names the field (`status: expected one of 'finished', ...; got null`) instead
of crashing whatever reads the field later.

Covers the annotations saved records use: str, int, float (an int is accepted), bool, None, Any,
Literal, unions, list[X], tuple[X, Y] (a JSON list of that length), dict[str, X].
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin


class ShapeError(ValueError):
    """A value does not have the type its field declares; the message names the field."""


def conform_fields(cls: type, data: object, where: str = "") -> dict[str, Any]:
    """`data`'s values for the fields of dataclass `cls`, checked (tuples rebuilt from JSON lists); a
    required field must be there, unknown keys (from a newer cardlab) are dropped."""
    if not isinstance(data, dict):
        raise ShapeError(f"{where or 'the record'}: expected an object, got {_shown(data)}")
    hints = typing.get_type_hints(cls)
    checked = {}
    for field in dataclasses.fields(cls):
        name = f"{where}.{field.name}" if where else field.name
        if field.name in data:
            checked[field.name] = conform(data[field.name], hints[field.name], name)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ShapeError(f"{name}: missing")
    return checked


def conform(value: object, hint: Any, where: str) -> Any:
    """`value` if it has the type `hint` (tuples rebuilt from lists), else ShapeError naming `where`."""
    origin, args = get_origin(hint), get_args(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        for option in args:
            try:
                return conform(value, option, where)
            except ShapeError:
                continue
        raise _mismatch(hint, value, where)
    if origin is list and isinstance(value, list):
        return [conform(item, args[0], f"{where}[{i}]") for i, item in enumerate(value)]
    if origin is tuple and isinstance(value, list | tuple) and len(value) == len(args):
        return tuple(conform(item, arg, f"{where}[{i}]") for i, (item, arg) in enumerate(zip(value, args)))
    if origin is dict and isinstance(value, dict):
        return {key: conform(item, args[1], f"{where}.{key}") for key, item in value.items()}
    if _is_scalar(value, hint, args if origin is Literal else None):
        return float(value) if hint is float else value  # type: ignore[arg-type]
    raise _mismatch(hint, value, where)


def _is_scalar(value: object, hint: Any, literal: tuple[object, ...] | None) -> bool:
    if literal is not None:
        return isinstance(value, str | int) and value in literal
    if hint is type(None):
        return value is None
    if hint is bool or isinstance(value, bool):  # JSON true is no number and 1 is no boolean
        return hint is bool and isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float)
    return hint in (str, int) and isinstance(value, hint)


def _mismatch(hint: Any, value: object, where: str) -> ShapeError:
    return ShapeError(f"{where}: expected {_described(hint)}, got {_shown(value)}")


def _described(hint: Any) -> str:
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(_described(option) for option in args)
    if origin is Literal:
        return "one of " + ", ".join(repr(option) for option in args)
    if origin is tuple:
        return f"a list of {len(args)} values"
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    names |= {type(None): "null", list: "a list", dict: "an object"}
    return names.get(origin or hint, str(hint))


def _shown(value: object) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else f"{text[:37]}..."
