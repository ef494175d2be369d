"""Every lab's metadata, read from the lab folders under `labs/builtin/` (see `labs.labdir`).

Torch-free on purpose: `cardlab pack check` validates card `lab` links with `known_lab_ids()`, and the
study screen shows the lab key, without paying for a torch import. A lab's `run(ctx)` lives in its
folder's `lab.py` and is imported by `load_run_function` only when the lab runs.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from labs.errors import LabError
from labs.info import (
    LESSON_PACK_ID,
    LabInfo,
    Param,
    ParamType,
    ParamValue,
    Question,
    make_presets,
)
from labs.labdir import builtin_labs, load_lab_module
from labs.presets import DEFAULT_PRESET, PRESET_NAMES

if TYPE_CHECKING:
    from labs.context import LabContext

__all__ = [
    "DEFAULT_PRESET",
    "LESSON_PACK_ID",
    "PRESET_NAMES",
    "LabError",
    "LabInfo",
    "Param",
    "ParamType",
    "ParamValue",
    "Question",
    "add_labs",
    "all_labs",
    "extra_labs",
    "get_lab",
    "known_lab_ids",
    "load_run_function",
]

_presets = make_presets  # the name the test labs use

_BY_ID: dict[str, LabInfo] = {lab.id: lab for lab in builtin_labs()}
_PACK_OF: dict[str, str] = {}  # lab id -> the id of the pack that ships it (built-in labs: absent)


def register_pack_labs(pack_id: str, labs: list[LabInfo]) -> list[LabInfo]:
    """Add a pack's labs; those whose id is already taken are returned, not added."""
    taken = [lab for lab in labs if lab.id in _BY_ID and _PACK_OF.get(lab.id) != pack_id]
    for lab in labs:
        if lab not in taken:
            _BY_ID[lab.id] = lab
            _PACK_OF[lab.id] = pack_id
    return taken


def add_labs(*labs: LabInfo) -> None:
    """Make labs defined in Python known to this process (a throwaway lab a test or benchmark runs)."""
    _BY_ID.update({lab.id: lab for lab in labs})


@contextlib.contextmanager
def extra_labs(*labs: LabInfo) -> Iterator[None]:
    """`labs` known inside the block only; the registry is as it was after it, pack labs registered
    inside the block included."""
    saved = dict(_BY_ID), dict(_PACK_OF)
    add_labs(*labs)
    try:
        yield
    finally:
        _BY_ID.clear()
        _BY_ID.update(saved[0])
        _PACK_OF.clear()
        _PACK_OF.update(saved[1])


def pack_of(lab_id: str) -> str | None:
    """The pack a lab came with, or None for a built-in lab (which needs no trust)."""
    return _PACK_OF.get(lab_id)


def all_labs() -> tuple[LabInfo, ...]:
    return tuple(_BY_ID.values())


def known_lab_ids() -> frozenset[str]:
    return frozenset(_BY_ID)


def get_lab(lab_id: str) -> LabInfo:
    try:
        return _BY_ID[lab_id]
    except KeyError:
        import difflib  # only this error path needs it

        close = difflib.get_close_matches(lab_id, _BY_ID, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise LabError(f"unknown lab {lab_id!r}; {hint}known labs: {', '.join(sorted(_BY_ID))}") from None


RunFunction = Callable[["LabContext"], Any]


def load_run_function(info: LabInfo) -> RunFunction:
    """Import the lab's code (torch and all) and return its `run(ctx)`: a lab folder's lab.py by path,
    or the module `info.module` for a lab defined in Python (the test labs, `models pretrain`)."""
    module = load_lab_module(info) if info.folder else importlib.import_module(info.module)
    run = getattr(module, "run", None)
    if not callable(run):
        raise LabError(f"lab module {info.module} has no run(ctx) function")
    return run
