"""Which data a run trains on, decided once, in the app, before the lab's process starts.

The `full` preset trains on the lab's `full_data`; `--data NAME|PATH` on that (checked against the lab's
`data_shape`); `--data generated` on the lab's generated data; every other run on the first of the lab's
`real_data` that is in the cache, else on generated data, saying how to get the real one. The choice
travels in the run's spec (`labs.spec.RunSpec.data_choice`), so the lab's process never decides again,
and the lab screen's data line shows the same choice before the run. Torch-free.

A `--data` that names nothing, or holds the wrong shape, is refused here with LabError, before any process.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from labs.checks import GENERATED_DATA
from labs.errors import LabError

if TYPE_CHECKING:
    from engine.datasets.fetch import HomeLike
    from labs.info import LabInfo

FULL_PRESET = "full"


@dataclass(frozen=True)
class DataChoice:
    path: str | None = None  # the real data (a file or folder); None: the lab generates its own
    name: str = ""  # the catalog name, or `--data` as typed
    note: str = ""  # generated data: why (asked for, or the real one not cached and how to get it)
    missing: str | None = None  # the catalog dataset that would make the run use real data
    blocked: str = ""  # why this run cannot start (the full preset without its dataset)

    @property
    def real(self) -> bool:
        return self.path is not None


def choose_data(info: LabInfo, preset: str, data: str | None, home: HomeLike) -> DataChoice:
    """The data a run of `info` with `preset` and `--data data` uses (LabError: a `--data` that names
    nothing or has the wrong shape, saying what exists or what the lab expects)."""
    from engine.datasets.catalog import DatasetError, format_size, get
    from engine.datasets.fetch import dataset_path, is_fetched, resolve_data_arg

    if data == GENERATED_DATA:
        return DataChoice(note="generated data, as asked (--data generated)")
    if data:
        try:
            path = Path(resolve_data_arg(data, home))
        except DatasetError as error:  # says which datasets exist, or how to fetch this one
            raise LabError(str(error)) from None
        if info.data_shape is not None:
            info.data_shape.check(path)
        return DataChoice(path=str(path), name=data)
    try:
        if preset == FULL_PRESET and info.full_data:
            return _full_preset_data(get(info.full_data).name, home)
        for name in info.real_data:
            if is_fetched(name, home):
                return DataChoice(path=str(dataset_path(name, home)), name=name)
        if not info.real_data:
            return DataChoice()
        first = get(info.real_data[0])
    except DatasetError as error:  # a lab naming a dataset the catalog does not know
        raise LabError(f"lab {info.id}: {error}") from None
    note = (
        f"the real {first.name} is not in the cache: `cardlab data fetch {first.name}` "
        f"({format_size(first.size)}) makes the next run use it"
    )
    return DataChoice(note=note, missing=first.name)


def _full_preset_data(name: str, home: HomeLike) -> DataChoice:
    """The lesson-scale preset trains on the real dataset, and cannot start without it."""
    from engine.datasets.fetch import dataset_path, is_fetched

    if is_fetched(name, home):
        return DataChoice(path=str(dataset_path(name, home)), name=name)
    blocked = (
        f"the full preset trains on the real {name!r} dataset, which is not in the cache: "
        f"`cardlab data fetch {name}`, or run a smaller preset on generated data: --preset quick"
    )
    return DataChoice(missing=name, blocked=blocked)
