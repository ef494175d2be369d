"""Lab folders: `lab.toml` (what the lab is) next to `lab.py` (its `run(ctx)`), read without torch.

    labs/builtin/_params.toml        parameter groups several labs share, each defined once
    labs/builtin/<lab id>/lab.toml   id, title, summary, cards, steps, question, params, presets
    labs/builtin/<lab id>/lab.py     run(ctx), imported by path only when the lab runs

A `[[params]]` entry `include = "NAME"` puts a shared group's parameters at that place, and the group's
presets under the lab's own. Every problem in a lab.toml is reported as `file:line: message`, like a
pack's. The format is documented in docs/labs.md.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast, get_args

from cards.pack import Problem
from cards.pack_format import syntax_problem
from labs.checks import Check, DataShape, parse_check
from labs.errors import LabError
from labs.info import LabInfo, Param, ParamType, ParamValue, Question, make_presets
from labs.presets import PRESET_NAMES

if TYPE_CHECKING:
    from cards.toml_lines import SourceLines

LAB_FILE = "lab.toml"
CODE_FILE = "lab.py"
GROUPS_FILE = "_params.toml"
BUILTIN_ROOT = Path(__file__).resolve().parent / "builtin"
BUILTIN_NAMESPACE = "labs"  # a built-in lab's code is the module labs.<id_with_underscores>
PACK_NAMESPACE = "cardlab_pack_labs"  # a pack's lab code: never shadows a module of ours

_LAB_KEYS = {
    "id",
    "title",
    "summary",
    "cards",
    "steps",
    "full_data",
    "real_data",
    "reference",
    "order",
    "question",
    "params",
    "presets",
    "checks",
    "data",
}
_CHECK_KEYS = {"require", "why", "generated_only"}
_DATA_KEYS = {"columns", "min_rows", "csv_name", "folder_files", "folder_only"}
_PARAM_KEYS = {"name", "type", "default", "help", "min", "max", "choices"}
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class LabFormatError(LabError):
    """One or more problems in lab.toml files, each `file:line: message`."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


@dataclass(frozen=True)
class ParamGroup:
    name: str
    params: tuple[Param, ...]
    presets: Mapping[str, Mapping[str, ParamValue]]


# -- where keys are -------------------------------------------------------------------------------------


def key_lines(text: str) -> SourceLines:
    """Where each table and key of a lab.toml is (cardlab's one TOML indexer, shared with packs)."""
    from cards.toml_lines import index_lines

    return index_lines(text)


class _Source:
    """A TOML file being checked: its data, its key lines and the problems found so far."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[Problem] = []
        text = path.read_text(encoding="utf-8")
        try:
            self.data: dict[str, Any] = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise LabFormatError([syntax_problem(path, text, str(error))]) from None
        except (ValueError, RecursionError) as error:  # a huge integer; arrays nested too deeply to read
            reason = "nested too deeply to read" if isinstance(error, RecursionError) else str(error)
            raise LabFormatError([Problem(path, 1, None, f"invalid TOML: {reason}")]) from None
        self.lines = key_lines(text)

    def line(self, table: tuple[Any, ...], key: str = "") -> int:
        lines = self.lines.table(table)
        return lines.line_of(key) if lines is not None else 1

    def add(self, table: tuple[Any, ...], key: str, message: str) -> None:
        self.problems.append(Problem(self.path, self.line(table, key), None, message))

    def raise_problems(self) -> None:
        if self.problems:
            raise LabFormatError(sorted(self.problems, key=lambda p: p.line))

    def text(self, table: dict[str, Any], where: tuple[Any, ...], key: str, required: bool = True) -> str:
        value = table.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip():
            self.add(
                where, key, f"{key} must be a non-empty string" + ("" if key in table else ", and is missing")
            )
            return ""
        return value

    def strings(self, table: dict[str, Any], where: tuple[Any, ...], key: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            self.add(where, key, f'{key} must be an array of strings, e.g. {key} = ["a", "b"]')
            return ()
        return tuple(value)

    def unknown(self, table: dict[str, Any], where: tuple[Any, ...], allowed: set[str]) -> None:
        from cards.toml_lines import did_you_mean

        for key in sorted(table.keys() - allowed):
            self.add(where, key, f'unknown key "{key}"; {did_you_mean(key, allowed)}')


# -- parameters and presets ----------------------------------------------------------------------------


def _param(src: _Source, table: dict[str, Any], where: tuple[Any, ...]) -> Param | None:
    src.unknown(table, where, _PARAM_KEYS)
    name = src.text(table, where, "name")
    if name and not _NAME.match(name):
        src.add(where, "name", f"parameter name {name!r} must be a Python identifier (p.{name} reads it)")
    kind = table.get("type")
    if kind not in get_args(ParamType):
        src.add(where, "type", f"type must be one of {', '.join(get_args(ParamType))}, got {kind!r}")
        return None
    kind = cast(ParamType, kind)
    bounds = {key: table[key] for key in ("min", "max") if key in table}
    for key, value in bounds.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            src.add(where, key, f"{key} must be a number")
            return None
    choices = src.strings(table, where, "choices")
    if kind == "choice" and not choices:
        src.add(where, "type", 'a choice parameter needs choices = ["a", "b"]')
    if "default" not in table:
        src.add(where, "", f"parameter {name!r} has no default (the quick preset's value)")
        return None
    param = Param(name, kind, table["default"], src.text(table, where, "help"), choices=choices, **bounds)
    try:
        return Param(name, kind, param.check(param.default), param.help, choices=choices, **bounds)
    except LabError as error:
        src.add(where, "default", f"default: {error}")
        return None


def _params(
    src: _Source, entries: object, root: tuple[Any, ...], groups: Mapping[str, ParamGroup]
) -> tuple[list[Param], list[ParamGroup]]:
    """The `[[params]]` tables in order, with included groups expanded in place."""
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        src.add(root, "params", "params must be [[params]] tables")
        return [], []
    params: list[Param] = []
    included: list[ParamGroup] = []
    for index, entry in enumerate(entries):
        where = (*root, "params", index)
        if "include" in entry:
            group = groups.get(entry["include"]) if isinstance(entry["include"], str) else None
            if group is None:
                known = ", ".join(sorted(groups)) or "none"
                src.add(where, "include", f"no parameter group {entry['include']!r} (known groups: {known})")
                continue
            included.append(group)
            params += group.params
        elif (param := _param(src, entry, where)) is not None:
            params.append(param)
    _no_duplicates(src, params, root)
    return params, included


def _no_duplicates(src: _Source, params: list[Param], root: tuple[Any, ...]) -> None:
    seen: set[str] = set()
    for param in params:
        if param.name in seen:
            src.add((*root, "params", 0), "", f"parameter {param.name!r} is declared twice")
        seen.add(param.name)


def _presets(
    src: _Source, table: object, root: tuple[Any, ...], params: list[Param], included: list[ParamGroup]
) -> dict[str, dict[str, ParamValue]]:
    """Each preset's values: the included groups' first, the file's own on top, all checked."""
    by_name = {param.name: param for param in params}
    presets: dict[str, dict[str, ParamValue]] = {name: {} for name in PRESET_NAMES}
    for group in included:
        for name in PRESET_NAMES:
            presets[name].update(group.presets.get(name, {}))
    if not isinstance(table, dict):
        src.add(root, "presets", "presets must be tables: [presets.smoke], [presets.full]")
        return presets
    src.unknown(table, (*root, "presets"), set(PRESET_NAMES))
    for name, values in table.items():
        where = (*root, "presets", name)
        if name not in presets or not isinstance(values, dict):
            continue
        for key, value in values.items():
            if key not in by_name:
                src.add(where, key, f"preset {name}: no parameter {key!r}")
                continue
            try:
                presets[name][key] = by_name[key].check(value)
            except LabError as error:
                src.add(where, key, f"preset {name}: {error}")
    return presets


# -- groups and labs -------------------------------------------------------------------------------------


def read_param_groups(path: Path) -> dict[str, ParamGroup]:
    """`_params.toml`: `[NAME]` tables, each with `[[NAME.params]]` and optional `[NAME.presets.*]`."""
    src = _Source(path)
    groups: dict[str, ParamGroup] = {}
    for name, table in src.data.items():
        if not isinstance(table, dict):
            src.add((), name, f"{name} must be a [table] of parameters")
            continue
        src.unknown(table, (name,), {"about", "params", "presets"})
        params, _ = _params(src, table.get("params", []), (name,), {})
        presets = _presets(src, table.get("presets", {}), (name,), params, [])
        groups[name] = ParamGroup(name, tuple(params), make_presets(**presets))
    src.raise_problems()
    return groups


def read_lab(folder: Path, groups: Mapping[str, ParamGroup], namespace: str = BUILTIN_NAMESPACE) -> LabInfo:
    """The LabInfo of `folder/lab.toml`, or LabFormatError listing every problem in it."""
    src = _Source(folder / LAB_FILE)
    data = src.data
    src.unknown(data, (), _LAB_KEYS)
    lab_id = src.text(data, (), "id")
    if lab_id and not _ID.match(lab_id):
        src.add((), "id", f"lab id {lab_id!r}: use lowercase letters, digits and single hyphens")
    params, included = _params(src, data.get("params", []), (), groups)
    presets = _presets(src, data.get("presets", {}), (), params, included)
    info = LabInfo(
        id=lab_id,
        title=src.text(data, (), "title"),
        summary=src.text(data, (), "summary"),
        card_ids=src.strings(data, (), "cards"),
        params=tuple(params),
        presets=make_presets(**presets),
        question=_question(src, data.get("question")),
        module=f"{namespace}.{lab_id.replace('-', '_')}",
        steps=src.strings(data, (), "steps"),
        full_data=src.text(data, (), "full_data", required=False) or None,
        real_data=src.strings(data, (), "real_data"),
        reference=src.text(data, (), "reference", required=False),
        folder=folder.resolve(),
        checks=_checks(src, data.get("checks", []), params),
        data_shape=_data_shape(src, data.get("data")),
    )
    _presets_pass_checks(src, info)
    if not (folder / CODE_FILE).is_file():
        src.add((), "id", f"the lab's code is missing: {folder / CODE_FILE} with a run(ctx) function")
    src.raise_problems()
    return info


def _checks(src: _Source, entries: object, params: list[Param]) -> tuple[Check, ...]:
    """The `[[checks]]` tables: constraints between parameters (labs.checks)."""
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        src.add((), "checks", 'checks must be [[checks]] tables with require = "a < b"')
        return ()
    checks: list[Check] = []
    known = {param.name for param in params if param.type in ("int", "float")}
    for index, entry in enumerate(entries):
        where = ("checks", index)
        src.unknown(entry, where, _CHECK_KEYS)
        if (problem := parse_check(entry.get("require"), known)) is not None:
            src.add(where, "require", problem)
            continue
        why = src.text(entry, where, "why", required=False)
        if not isinstance(only := entry.get("generated_only", False), bool):
            src.add(where, "generated_only", "generated_only must be true or false")
            continue
        checks.append(Check(entry["require"], why, only))
    return tuple(checks)


def _presets_pass_checks(src: _Source, info: LabInfo) -> None:
    """Every preset must satisfy the lab's own checks: a preset that cannot run is a lab.toml problem."""
    for preset in PRESET_NAMES:
        try:
            info.resolve(preset)
        except LabError as error:
            src.add(("presets", preset), "", f"preset {preset}: {error}")


def _data_shape(src: _Source, table: object) -> DataShape | None:
    """`[data]`: what a `--data` file or folder must hold."""
    if table is None:
        return None
    if not isinstance(table, dict):
        src.add((), "data", "data must be a [data] table")
        return None
    where = ("data",)
    src.unknown(table, where, _DATA_KEYS)
    min_rows = table.get("min_rows", 1)
    if isinstance(min_rows, bool) or not isinstance(min_rows, int) or min_rows < 1:
        src.add(where, "min_rows", "min_rows must be a positive integer")
        min_rows = 1
    if not isinstance(folder_only := table.get("folder_only", False), bool):
        src.add(where, "folder_only", "folder_only must be true or false")
        folder_only = False
    return DataShape(
        columns=src.strings(table, where, "columns"),
        min_rows=min_rows,
        csv_name=src.text(table, where, "csv_name", required=False) or None,
        folder_files=src.strings(table, where, "folder_files"),
        folder_only=folder_only,
    )


def _question(src: _Source, table: object) -> Question | None:
    if table is None:
        return None
    where = ("question",)
    if not isinstance(table, dict):
        src.add((), "question", "question must be a [question] table with prompt and choices")
        return None
    src.unknown(table, where, {"prompt", "choices"})
    choices = src.strings(table, where, "choices")
    if len(choices) < 2:
        src.add(where, "choices", "a question needs at least two choices")
    return Question(src.text(table, where, "prompt"), choices)


def lab_folders(root: Path) -> list[Path]:
    """The folders under `root` that hold a lab.toml (one level down), in name order."""
    return sorted(path.parent for path in root.glob(f"*/{LAB_FILE}"))


def lab_order(folder: Path) -> int:
    """A lab's place in listings: its lab.toml's `order`, or after the ordered ones."""
    value = tomllib.loads((folder / LAB_FILE).read_text(encoding="utf-8")).get("order", 1000)
    return value if isinstance(value, int) else 1000


def read_labs(root: Path, groups: Mapping[str, ParamGroup], namespace: str) -> list[LabInfo]:
    """Every lab folder under `root`; problems in all of them are reported together."""
    labs: list[LabInfo] = []
    problems: list[Problem] = []
    for folder in sorted(lab_folders(root), key=lambda f: (lab_order(f), f.name)):
        try:
            labs.append(read_lab(folder, groups, namespace))
        except LabFormatError as error:
            problems += error.problems
    if problems:
        raise LabFormatError(problems)
    return labs


@functools.cache
def builtin_groups() -> dict[str, ParamGroup]:
    return read_param_groups(BUILTIN_ROOT / GROUPS_FILE)


def builtin_labs() -> list[LabInfo]:
    return read_labs(BUILTIN_ROOT, builtin_groups(), BUILTIN_NAMESPACE)


def param_group(name: str) -> ParamGroup:
    """A shared parameter group of the built-in labs (its single definition, in _params.toml)."""
    return builtin_groups()[name]


# -- the code ---------------------------------------------------------------------------------------------


def load_lab_module(info: LabInfo) -> ModuleType:
    """Import `info.folder/lab.py` by path as `info.module`; modules next to it are importable by it."""
    assert info.folder is not None
    if (loaded := sys.modules.get(info.module)) is not None:
        return loaded
    spec = importlib.util.spec_from_file_location(info.module, info.folder / CODE_FILE)
    if spec is None or spec.loader is None:
        raise LabError(f"cannot load {info.folder / CODE_FILE}")
    module = importlib.util.module_from_spec(spec)
    if str(info.folder) not in sys.path:  # `import helper` finds helper.py next to lab.py
        sys.path.insert(0, str(info.folder))
    sys.modules[info.module] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[info.module]
        raise
    return module
