"""Study settings in `config.toml` (in the Home's config folder).

The study keys live at the top level of the file; tables (`[something]`) are left for other parts of the
app and are kept untouched when the settings are saved.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from cards.files import write_atomic
from cards.paths import Home

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

# tomllib and zoneinfo are imported where used: a home without config.toml or a time zone (the common
# start-up) never needs them.

FSRS_PARAMETER_COUNT = 21


class ConfigError(Exception):
    """A setting in config.toml is missing its meaning; the message names the file, line and key."""


@dataclass(frozen=True)
class Config:
    """The study settings of config.toml, each with its default."""

    new_per_day: int = 20
    reviews_per_day: int = 200
    rollover_hour: int = 4  # the local hour at which a new study day starts
    learning_steps_min: tuple[int, ...] = (1, 10)
    relearning_steps_min: tuple[int, ...] = (10,)
    desired_retention: float = 0.9
    leech_lapses: int = 8
    fsrs_parameters: tuple[float, ...] | None = None  # None: fsrs' defaults
    timezone: str | None = None  # an IANA name such as "Europe/Paris"; None: the system's local time
    bury_siblings: bool = True  # answering one card of a cloze note hides its other cards until tomorrow

    def tzinfo(self) -> ZoneInfo | None:
        """The zone that decides where study days begin; None means the system's local time."""
        if not self.timezone:
            return None
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.timezone)


def _int_in(low: int, high: int | None) -> Any:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be a whole number, not {value!r}")
        if value < low or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise ValueError(f"must be {bounds}, not {value}")
        return value

    return check


def _minutes_list(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise ValueError(f"must be a list of minutes such as [1, 10], not {value!r}")
    return tuple(_int_in(1, 60 * 24 * 365)(item) for item in value)


def _retention(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.5 <= value <= 0.99:
        raise ValueError(f"must be a number from 0.5 to 0.99, not {value!r}")
    return float(value)


def _parameters(value: Any) -> tuple[float, ...]:
    from fsrs.scheduler import LOWER_BOUNDS_PARAMETERS, UPPER_BOUNDS_PARAMETERS

    if not isinstance(value, list) or len(value) != FSRS_PARAMETER_COUNT:
        raise ValueError(f"must be a list of {FSRS_PARAMETER_COUNT} numbers (run `cardlab optimize`)")
    numbers = []
    for index, (item, low, high) in enumerate(zip(value, LOWER_BOUNDS_PARAMETERS, UPPER_BOUNDS_PARAMETERS)):
        if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
            raise ValueError(f"item {index} must be a number, not {item!r}")
        if not low <= item <= high:
            raise ValueError(f"item {index} = {item} is outside fsrs' range {low}..{high}")
        numbers.append(float(item))
    return tuple(numbers)


def _timezone(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f'must be a time zone name such as "Europe/Paris", not {value!r}')
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"{value!r} is not a known time zone") from err
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {value!r}")
    return value


_CHECKS = {
    "new_per_day": _int_in(0, None),
    "reviews_per_day": _int_in(0, None),
    "rollover_hour": _int_in(0, 23),
    "learning_steps_min": _minutes_list,
    "relearning_steps_min": _minutes_list,
    "desired_retention": _retention,
    "leech_lapses": _int_in(1, None),
    "fsrs_parameters": _parameters,
    "timezone": _timezone,
    "bury_siblings": _flag,
}
assert set(_CHECKS) == {f.name for f in fields(Config)}

# What each setting means, for `cardlab config list` and the settings screen.
DESCRIPTIONS = {
    "new_per_day": "new cards introduced per pack per day (0 or more)",
    "reviews_per_day": "reviews shown per pack per day (0 or more)",
    "rollover_hour": "local hour (0-23) at which a new study day begins",
    "learning_steps_min": "minutes between the first answers of a new card, e.g. [1, 10]",
    "relearning_steps_min": "minutes between the answers of a forgotten card, e.g. [10]",
    "desired_retention": "share of reviews you aim to recall, 0.5 to 0.99",
    "leech_lapses": "lapses after which a card is suspended and tagged leech (1 or more)",
    "fsrs_parameters": f"{FSRS_PARAMETER_COUNT} FSRS weights (`cardlab optimize` fits them); empty: defaults",
    "timezone": 'IANA time zone for study days, e.g. "Europe/Paris"; empty: the system\'s',
    "bury_siblings": "true: answering one cloze card hides its sibling cards until tomorrow",
}
assert set(DESCRIPTIONS) == set(_CHECKS)

_TOML_LINE_AND_COLUMN = re.compile(r"\(at line (\d+), column (\d+)\)")


def _key_line(text: str, key: str) -> int | None:
    """The line where a top-level key is set (tables start at the first `[header]`)."""
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("["):
            return None
        if pattern.match(line):
            return number
    return None


def parse_config(text: str, source: str = "config.toml") -> Config:
    """Check every study key in the TOML `text`; `source` names the file in error messages."""
    import tomllib

    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        found = _TOML_LINE_AND_COLUMN.search(str(err))
        where = f"{source}:{found.group(1)}" if found else source
        raise ConfigError(f"{where}: not valid TOML: {err}") from None
    values: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(value, dict):
            continue  # a table owned by another part of the app
        line = _key_line(text, key)
        where = f"{source}:{line}" if line else source
        try:
            check_key(key)
        except ConfigError as err:
            raise ConfigError(f"{where}: {err}") from None
        try:
            values[key] = _CHECKS[key](value)
        except ValueError as err:
            raise ConfigError(f"{where}: {key} {err}") from None
    return replace(Config(), **values)


def check_key(key: str) -> str:
    """`key` if it is a setting; else a ConfigError that suggests the nearest one."""
    if key in _CHECKS:
        return key
    close = difflib.get_close_matches(key, _CHECKS, n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    raise ConfigError(f"unknown setting {key!r}{hint} (settings: {', '.join(_CHECKS)})")


def setting_text(config: Config, key: str) -> str:
    """The value of `key` as written in config.toml ("" when unset)."""
    value = getattr(config, check_key(key))
    return "" if value is None else _toml_value(value)


def with_setting(config: Config, key: str, text: str | None) -> Config:
    """`config` with `key` set from the user's `text` (TOML, or a bare word such as Europe/Paris; a
    list may be written `1, 10`); None or blank text gives the default back. ConfigError says what is
    wrong and what is allowed."""
    check_key(key)
    if text is None or not text.strip():
        return replace(config, **{key: getattr(Config(), key)})
    try:
        value = _CHECKS[key](_parse_text(key, text.strip()))
    except ValueError as err:
        raise ConfigError(f"{key} {err}") from None
    return replace(config, **{key: value})


def _parse_text(key: str, text: str) -> Any:
    import tomllib

    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        pass
    if key.endswith("_min") or key == "fsrs_parameters":  # "1, 10" or "1 10" for [1, 10]
        items = re.split(r"[,\s]+", text.strip(",[] "))
        try:
            return tomllib.loads(f"value = [{', '.join(items)}]")["value"]
        except tomllib.TOMLDecodeError:
            pass
    return text  # a bare word: the check says whether a string is allowed here


def load_config(home: Home) -> Config:
    """The settings in `home.config_path`; a missing file gives the defaults."""
    path = home.config_path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the settings: {err}") from None
    return parse_config(text, source=str(path))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return repr(value)


def _value_end(lines: list[str], start: int) -> int:
    """One past the last line of the key set on `lines[start]` (a list may span several lines)."""
    import tomllib

    for end in range(start + 1, len(lines) + 1):
        try:
            tomllib.loads("\n".join(lines[start:end]))
            return end
        except tomllib.TOMLDecodeError:
            continue
    return start + 1


def save_config(home: Home, config: Config) -> None:
    """Write the study settings, keeping comments, other keys' lines and other tables as they are."""
    path = home.config_path
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    first_table = next((i for i, line in enumerate(lines) if line.lstrip().startswith("[")), len(lines))
    head, tables = lines[:first_table], lines[first_table:]
    while head and not head[-1].strip():
        head.pop()  # new keys go right after the existing ones, not after the blank line before a table
    defaults = Config()
    for field in fields(Config):
        value = getattr(config, field.name)
        pattern = re.compile(rf"^\s*{re.escape(field.name)}\s*=")
        index = next((i for i, line in enumerate(head) if pattern.match(line)), None)
        new_lines = [] if value is None else [f"{field.name} = {_toml_value(value)}"]
        if index is not None:
            head[index : _value_end(head, index)] = new_lines
        elif value != getattr(defaults, field.name):  # defaults stay unwritten, so they can improve later
            head.extend(new_lines)
    if tables and head and head[-1].strip():
        head.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, "\n".join(head + tables) + "\n")
