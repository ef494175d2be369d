"""What a lab is, as data: its parameters, presets and "predict the outcome" question (torch-free)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from labs.checks import Check, DataShape, check_values
from labs.errors import LabError
from labs.presets import DEFAULT_PRESET

LESSON_PACK_ID = "fastai-lesson4"

ParamType = Literal["int", "float", "str", "bool", "choice", "ints"]  # ints: "200,100", each in min..max
ParamValue = int | float | str | bool


@dataclass(frozen=True)
class Param:
    """One typed lab parameter; `default` is the `quick` value unless a preset overrides it."""

    name: str
    type: ParamType
    default: ParamValue
    help: str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()

    def parse(self, text: str) -> ParamValue:
        """Turn user text (from `--set` or an input box) into a checked value."""
        text = text.strip()
        try:
            if self.type == "int":
                value: ParamValue = int(text)
            elif self.type == "float":
                value = float(text)
            elif self.type == "bool":
                value = _parse_bool(text)
            else:
                value = text
        except ValueError:
            raise LabError(f"{self.name}: {text!r} is not a valid {self.type}") from None
        return self.check(value)

    def check(self, value: object) -> ParamValue:
        """Coerce `value` to this parameter's type and check its range or choices."""
        if self.type == "int":
            if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
                raise LabError(f"{self.name}: expected an integer, got {value!r}")
            value = int(value)
        elif self.type == "float":
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise LabError(f"{self.name}: expected a finite number, got {value!r}")
            value = float(value)
        elif self.type == "bool":
            if not isinstance(value, bool):
                raise LabError(f"{self.name}: expected true or false, got {value!r}")
        elif not isinstance(value, str):
            raise LabError(f"{self.name}: expected text, got {value!r}")
        elif self.type == "ints":
            return ",".join(str(self._in_range(number)) for number in self._integers(value))
        if self.type == "choice" and value not in self.choices:
            raise LabError(f"{self.name}: {value!r} is not one of {', '.join(self.choices)}")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return self._in_range(value)
        return value

    def _in_range(self, value: int | float) -> int | float:
        if self.min is not None and value < self.min:
            raise LabError(f"{self.name}: {value} is below the minimum {self.min:g}")
        if self.max is not None and value > self.max:
            raise LabError(f"{self.name}: {value} is above the maximum {self.max:g}")
        return value

    def _integers(self, text: str) -> list[int]:
        parts = [part.strip() for part in text.split(",")]
        if parts == [""]:
            return []
        try:
            return [int(part) for part in parts]
        except ValueError:
            raise LabError(f"{self.name}: {text!r} is not comma-separated integers, e.g. 200,100") from None


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in {"1", "true", "yes", "on", "y"}:
        return True
    if lowered in {"0", "false", "no", "off", "n"}:
        return False
    raise ValueError(text)


@dataclass(frozen=True)
class Question:
    """Asked before a run; the lab's result names which choice came true (`result["outcome"]`)."""

    prompt: str
    choices: tuple[str, ...]


@dataclass(frozen=True)
class LabInfo:
    id: str
    title: str
    summary: str
    card_ids: tuple[str, ...]  # card ids in the bundled pack `LESSON_PACK_ID`
    params: tuple[Param, ...]
    presets: Mapping[str, Mapping[str, ParamValue]]
    question: Question | None
    module: str  # the name its code is imported under (a lab folder's lab.py is loaded by path)
    steps: tuple[str, ...] = field(default=())  # stage names, in order, for the lab screen's steps list
    full_data: str | None = None  # the real dataset (`cardlab data fetch NAME`) the `full` preset trains on
    real_data: tuple[str, ...] = ()  # the real datasets the other presets use when cached, in preference
    reference: str = ""  # the lesson's or paper's figure for the claim, and how its set-up differs
    folder: Path | None = None  # the lab's folder (lab.toml, lab.py), None for a lab that is a module
    checks: tuple[Check, ...] = ()  # constraints between parameters, checked by `resolve`
    data_shape: DataShape | None = None  # what `--data` must hold (labs.checks), checked before a run

    @property
    def choices(self) -> tuple[str, ...]:
        """The question's choices, for the lab that names which one came true."""
        if self.question is None:
            raise LabError(f"lab {self.id!r} asks no question, so it has no choices to answer with")
        return self.question.choices

    def param(self, name: str) -> Param:
        for param in self.params:
            if param.name == name:
                return param
        known = ", ".join(p.name for p in self.params)
        raise LabError(f"lab {self.id!r} has no parameter {name!r} (it has: {known})")

    def resolve(
        self,
        preset: str = DEFAULT_PRESET,
        overrides: Mapping[str, object] | None = None,
        generated: bool | None = None,
    ) -> dict[str, ParamValue]:
        """The parameter values of `preset`, with `overrides` on top, all checked, and the lab's checks
        between them (`generated`: the lab makes its own data, so checks on its size apply too; a run
        knows from `labs.data_choice`; None: as a run without `--data` on a machine without the real
        data would, generating it unless the preset is the full one with its real dataset)."""
        if preset not in self.presets:
            raise LabError(f"unknown preset {preset!r}; choose one of {', '.join(self.presets)}")
        values: dict[str, object] = {p.name: p.default for p in self.params}
        values.update(self.presets[preset])
        for name, value in (overrides or {}).items():
            param = self.param(name)
            values[name] = param.parse(value) if isinstance(value, str) and param.type != "str" else value
        checked = {name: self.param(name).check(value) for name, value in values.items()}
        if generated is None:
            generated = not (preset == "full" and self.full_data)
        check_values(self.checks, checked, generated)
        return checked

    def parse_assignments(self, assignments: list[str]) -> dict[str, ParamValue]:
        """`["lr=0.01", "epochs=2"]` (from `--set`) to checked values."""
        parsed: dict[str, ParamValue] = {}
        for item in assignments:
            name, sep, text = item.partition("=")
            if not sep or not name.strip():
                raise LabError(f"--set expects key=value, got {item!r}")
            parsed[name.strip()] = self.param(name.strip()).parse(text)
        return parsed


def make_presets(
    smoke: Mapping[str, ParamValue],
    full: Mapping[str, ParamValue],
    quick: Mapping[str, ParamValue] | None = None,
) -> Mapping[str, Mapping[str, ParamValue]]:
    """`quick` is the parameters' defaults (unless it overrides some); `smoke` and `full` override some."""
    presets = {"smoke": smoke, "quick": quick or {}, "full": full}
    return MappingProxyType({name: MappingProxyType(dict(values)) for name, values in presets.items()})
