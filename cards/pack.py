"""Packs: one TOML file of cards (see docs/packs.md), loaded and validated.

`load_pack` either returns a `Pack` or raises `PackError` listing every problem found, each with the file,
line (and column where tomllib gives one), what is wrong and how to fix it.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cards import cloze
from cards._lines import SourceLines, TableLines, index_lines

FORMAT = 1
CARD_TYPES = ("basic", "cloze")
PACK_KEYS = ("id", "title", "version", "authors", "description", "license", "format")
CARD_KEYS = ("id", "type", "front", "back", "tags", "lab", "source", "notes")
ROOT_KEYS = ("pack", "cards")

_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_TAG = re.compile(r"[\w][\w:/.+-]*")
_IDENT = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
_SEMVER = re.compile(rf"(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)(?:-{_IDENT})?(?:\+{_IDENT})?")
_TOML_POSITION = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$")


@dataclass(frozen=True)
class Card:
    pack_id: str
    id: str  # card id; a cloze note "foo" with c1, c2 gives "foo#c1", "foo#c2"
    note_id: str  # the [[cards]] id as written in the file
    type: str  # "basic" | "cloze"
    front: str  # Markdown as written (cloze: with {{c1::...}} markers)
    back: str
    tags: tuple[str, ...]
    lab: str | None
    source: str | None
    notes: str | None
    file: Path
    line: int  # line of the [[cards]] table header
    cloze_index: int | None
    content_hash: str  # sha256 of (type, front, back, cloze_index); "edited" when it changes


@dataclass(frozen=True)
class Pack:
    id: str
    title: str
    version: str
    authors: tuple[str, ...]
    description: str
    license: str | None
    path: Path
    cards: tuple[Card, ...]

    @property
    def tags(self) -> tuple[str, ...]:
        """Every tag used by the pack's cards, sorted."""
        return tuple(sorted({tag for card in self.cards for tag in card.tags}))


@dataclass(frozen=True)
class Problem:
    file: Path
    line: int
    column: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" + (f":{self.column}" if self.column is not None else "")
        return f"{where}: {self.message}"


class PackError(Exception):
    """One or more problems in one or more pack files."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)


def content_hash(card_type: str, front: str, back: str, cloze_index: int | None) -> str:
    payload = json.dumps([card_type, front, back, cloze_index], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def load_pack(path: str | Path, known_labs: Collection[str] | None = None) -> Pack:
    """Load and validate one pack file. Lab ids are only checked when `known_labs` is given."""
    pack, _ = _load(Path(path), known_labs)
    return pack


def load_packs(paths: Iterable[str | Path], known_labs: Collection[str] | None = None) -> list[Pack]:
    """Load every pack in `paths` (a folder gives each `*.toml` in it); all problems of all files at once."""
    packs: list[Pack] = []
    problems: list[Problem] = []
    first_use: dict[str, tuple[Path, int]] = {}
    for path in expand_paths(paths):
        try:
            pack, id_line = _load(path, known_labs)
        except PackError as error:
            problems.extend(error.problems)
            continue
        if pack.id in first_use:
            other, other_line = first_use[pack.id]
            problems.append(Problem(path, id_line, None, duplicate_pack_message(pack.id, other, other_line)))
            continue
        first_use[pack.id] = (path, id_line)
        packs.append(pack)
    if problems:
        raise PackError(problems)
    return packs


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given; folders replaced by their `*.toml` files in name order."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(child for child in path.glob("*.toml") if child.is_file()))
        else:
            files.append(path)
    return files


def duplicate_pack_message(pack_id: str, other: Path, other_line: int) -> str:
    return (
        f'pack id "{pack_id}" is already used by {other}:{other_line}; '
        "pack ids must be unique (review history is kept per pack id), so rename one of them"
    )


def pack_id_line(path: str | Path) -> int:
    """Line of the `id` key in the `[pack]` table of `path` (1 when it cannot be found)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return 1
    return index_lines(text).pack_table().line_of("id")


# --- reading ------------------------------------------------------------------------------------------


def _load(path: Path, known_labs: Collection[str] | None) -> tuple[Pack, int]:
    text = _read_text(path)
    data = _parse_toml(path, text)
    lines = index_lines(text)
    checker = _Checker(path, lines, known_labs)
    pack = checker.check(data)
    if checker.problems or pack is None:
        raise PackError(sorted(checker.problems, key=lambda p: (p.line, p.column or 0)))
    return pack, lines.pack_table().line_of("id")


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PackError([Problem(path, 1, None, "no such file: check the path")]) from None
    except IsADirectoryError:
        raise PackError([Problem(path, 1, None, "is a folder: give a .toml file")]) from None
    except OSError as error:
        raise PackError([Problem(path, 1, None, f"cannot read the file: {error.strerror}")]) from None
    try:
        return raw.decode("utf-8-sig")  # an editor's byte-order mark is harmless
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        bad = raw[error.start : error.start + 1].hex()
        message = f"the file is not UTF-8 text (byte 0x{bad}): save it with UTF-8 encoding"
        raise PackError([Problem(path, line, column, message)]) from None


def _parse_toml(path: Path, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PackError([_syntax_problem(path, text, str(error))]) from None
    except ValueError as error:  # e.g. an integer literal longer than Python's digit limit
        raise PackError([Problem(path, 1, None, f"invalid TOML value: {error}")]) from None
    except RecursionError:
        message = "arrays or inline tables are nested too deeply to read"
        raise PackError([Problem(path, 1, None, message)]) from None


_ONE_LINE_STRING = 'a "..." or \'...\' string ends on its line: close it, or use """ for several lines'
# tomllib's reason (a substring of it) -> how to fix it; first match wins.
_SYNTAX_HINTS = (
    ("Illegal character '\\n'", _ONE_LINE_STRING),
    ('Expected "\'"', _ONE_LINE_STRING),
    (
        "Unterminated string",
        'close the string with the quote that opened it (""" for text over several lines)',
    ),
    ("Invalid value", 'text must be quoted: key = "text" (""" for several lines)'),
    ("Expected '=' after a key", "write key = value, one pair per line"),
    ("Invalid statement", "each line is key = value, a [table] or [[cards]] header, or a # comment"),
    (
        "Invalid initial character for a key",
        "keys are bare words or quoted; an inline { } table has no trailing comma",
    ),
    ("twice", "a [table] may appear only once: start each card with [[cards]], in double brackets"),
    (
        "Cannot overwrite",
        "this key is already set in this table: start the next card with a new [[cards]] header",
    ),
    ("Expected ']]'", "close the header with two brackets: [[cards]]"),
    ("Unescaped '\\'", "write \\\\ for a backslash inside \"...\", or use '...' or '''...''' strings"),
    ("Unclosed array", 'close the array with ] (tags = ["nlp", "tabular"])'),
    ("Illegal character", "control characters must be escaped; use \\t or \\n, or remove the character"),
)


def _syntax_problem(path: Path, text: str, error: str) -> Problem:
    position = _TOML_POSITION.search(error)
    reason = error[: position.start()] if position else error
    if position and position.group(1):
        line, column = int(position.group(1)), int(position.group(2))
    elif position:  # "at end of document"
        line, column = max(1, text.count("\n") + (0 if text.endswith("\n") else 1)), None
    else:
        line, column = 1, None
    hint = next((hint for needle, hint in _SYNTAX_HINTS if needle in reason), None)
    message = f"TOML syntax error: {reason}" + (f"; {hint}" if hint else "")
    return Problem(path, line, column, message)


# --- validation ---------------------------------------------------------------------------------------


def _type_name(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array"}
    if isinstance(value, dict):
        return "a table"
    return names.get(type(value), "a date/time")


def _did_you_mean(key: str, allowed: Iterable[str]) -> str:
    import difflib  # only needed on this error path

    options = sorted(allowed)
    close = difflib.get_close_matches(key, options, n=1, cutoff=0.6)
    if close:
        return f'did you mean "{close[0]}"?'
    return "allowed keys: " + ", ".join(options)


def _slug_hint(value: str) -> str:
    suggestion = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
    example = f'e.g. "{suggestion}"' if suggestion and suggestion != value else 'e.g. "lesson-4"'
    return f"use lowercase letters, digits and single hyphens ({example})"


class _Checker:
    """Validates parsed TOML against the pack format, collecting every problem with its line."""

    def __init__(self, path: Path, lines: SourceLines, known_labs: Collection[str] | None) -> None:
        self.path = path
        self.lines = lines
        self.known_labs = known_labs
        self.problems: list[Problem] = []

    def add(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.path, max(1, line), None, message))

    def check(self, data: dict[str, Any]) -> Pack | None:
        self._unknown_keys(data, ROOT_KEYS, self.lines.root, "at the top level")
        header = self._pack_header(data.get("pack"))
        cards = self._cards(data.get("cards"), header["id"] if header else "")
        if header is None or cards is None:
            return None
        return Pack(path=self.path, cards=cards, **header)

    def _unknown_keys(
        self, table: dict[str, Any], allowed: tuple[str, ...], lines: TableLines, where: str
    ) -> None:
        for key in table:
            if key not in allowed:
                self.add(lines.line_of(key), f'unknown key "{key}" {where}: {_did_you_mean(key, allowed)}')

    # [pack]

    def _pack_header(self, table: object) -> dict[str, Any] | None:
        if table is None:
            example = 'id = "my-pack", title, version = "1.0.0", authors, description and format = 1'
            self.add(1, f"missing [pack] table: add one with {example}")
            return None
        lines = self.lines.pack_table()
        if not isinstance(table, dict):
            self.add(lines.header, f"pack must be a table, not {_type_name(table)}: write a [pack] header")
            return None
        self._unknown_keys(table, PACK_KEYS, lines, "in [pack]")
        self._format(table, lines)
        pack_id = self._slug(table, "id", lines, "[pack]")
        title = self._text(table, "title", lines, "[pack]", required=True)
        version = self._version(table, lines)
        authors = self._string_list(table, "authors", lines, "[pack]", required=True)
        description = self._text(table, "description", lines, "[pack]", required=True)
        license_ = self._text(table, "license", lines, "[pack]", required=False)
        fields = (pack_id, title, version, authors, description)
        if any(value is None for value in fields):
            return None
        return {
            "id": pack_id,
            "title": title,
            "version": version,
            "authors": tuple(authors or ()),
            "description": description,
            "license": license_ or None,
        }

    def _format(self, table: dict[str, Any], lines: TableLines) -> None:
        line = lines.line_of("format")
        if "format" not in table:
            self.add(lines.header, f"[pack] is missing format: add format = {FORMAT}")
            return
        value = table["format"]
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(line, f"format must be an integer, not {_type_name(value)}: write format = {FORMAT}")
        elif value != FORMAT:
            newer = " (a newer cardlab may read it)" if value > FORMAT else ""
            self.add(line, f"unsupported format {value}: this cardlab reads format = {FORMAT}{newer}")

    def _version(self, table: dict[str, Any], lines: TableLines) -> str | None:
        version = self._text(table, "version", lines, "[pack]", required=True)
        if version is not None and not _SEMVER.fullmatch(version):
            hint = 'use semantic versioning MAJOR.MINOR.PATCH, e.g. version = "1.0.0"'
            self.add(lines.line_of("version"), f'version "{version}" is not a semantic version: {hint}')
            return None
        return version

    # shared field checks

    def _present(
        self, table: dict[str, Any], key: str, lines: TableLines, where: str, required: bool
    ) -> bool:
        if key in table:
            return True
        if required:
            self.add(lines.header, f'{where} is missing required key "{key}": add {key} = ...')
        return False

    def _text(
        self, table: dict[str, Any], key: str, lines: TableLines, where: str, required: bool
    ) -> str | None:
        if not self._present(table, key, lines, where, required):
            return None
        value = table[key]
        line = lines.line_of(key)
        if not isinstance(value, str):
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            hint = f'put it in quotes: {key} = "{value}"' if numeric else "use a quoted string"
            self.add(line, f"{key} must be a string, not {_type_name(value)}: {hint}")
            return None
        if required and not value.strip():
            self.add(line, f"{key} is empty: write the {key}")
            return None
        return value

    def _slug(
        self, table: dict[str, Any], key: str, lines: TableLines, where: str, required: bool = True
    ) -> str | None:
        value = self._text(table, key, lines, where, required)
        if value is None or (not required and value == ""):
            return None
        if not _SLUG.fullmatch(value):
            self.add(lines.line_of(key), f'{key} "{value}" is not a valid id: {_slug_hint(value)}')
            return None
        return value

    def _string_list(
        self, table: dict[str, Any], key: str, lines: TableLines, where: str, required: bool
    ) -> list[str] | None:
        if not self._present(table, key, lines, where, required):
            return None
        value = table[key]
        line = lines.line_of(key)
        example = f'{key} = ["first", "second"]'
        if not isinstance(value, list):
            self.add(line, f"{key} must be an array of strings, not {_type_name(value)}: write {example}")
            return None
        if any(not isinstance(item, str) or not item.strip() for item in value):
            self.add(line, f"{key} must contain only non-empty strings: write {example}")
            return None
        if required and not value:
            self.add(line, f"{key} is empty: write {example}")
            return None
        return value

    # [[cards]]

    def _cards(self, cards: object, pack_id: str) -> tuple[Card, ...] | None:
        if cards is None:
            self.add(
                self.lines.root.line_of("cards"), "the pack has no cards: add a [[cards]] table per card"
            )
            return None
        if not isinstance(cards, list) or not all(isinstance(card, dict) for card in cards):
            line = self.lines.root.line_of("cards")
            self.add(line, "cards must be an array of tables: start each card with a [[cards]] header")
            return None
        if not cards:
            self.add(
                self.lines.root.line_of("cards"), "the pack has no cards: add a [[cards]] table per card"
            )
            return None
        first_line: dict[str, int] = {}
        result: list[Card] = []
        for index, table in enumerate(cards):
            lines = self.lines.card_table(index)
            made = self._card(table, lines, pack_id)
            note_id = table.get("id")
            if isinstance(note_id, str) and note_id:
                if note_id in first_line:
                    message = (
                        f'duplicate card id "{note_id}": the same id is first used at line {first_line[note_id]}; '
                        "card ids must be unique within a pack"
                    )
                    self.add(lines.line_of("id"), message)
                else:
                    first_line[note_id] = lines.line_of("id")
            result.extend(made)
        return tuple(result)

    def _card(self, table: dict[str, Any], lines: TableLines, pack_id: str) -> list[Card]:
        given_id = table.get("id")
        where = f'card "{given_id}"' if isinstance(given_id, str) and given_id else "this card"
        self._unknown_keys(table, CARD_KEYS, lines, "in [[cards]]")
        before = len(self.problems)
        note_id = self._slug(table, "id", lines, where)
        card_type = self._card_type(table, lines)
        front = self._text(table, "front", lines, where, required=True)
        back = self._text(table, "back", lines, where, required=card_type == "basic")
        tags = self._tags(table, lines, where)
        lab = self._lab(table, lines, where)
        source = self._text(table, "source", lines, where, required=False)
        notes = self._text(table, "notes", lines, where, required=False)
        numbers = self._cloze_numbers(card_type, front, lines)
        if len(self.problems) != before or note_id is None or front is None or card_type is None:
            return []
        common = {
            "pack_id": pack_id,
            "note_id": note_id,
            "type": card_type,
            "front": front,
            "back": back or "",
            "tags": tuple(tags or ()),
            "lab": lab,
            "source": source or None,
            "notes": notes or None,
            "file": self.path,
            "line": lines.header,
        }
        if card_type == "basic":
            digest = content_hash("basic", front, back or "", None)
            return [Card(id=note_id, cloze_index=None, content_hash=digest, **common)]
        return [
            Card(
                id=f"{note_id}#c{number}",
                cloze_index=number,
                content_hash=content_hash("cloze", front, back or "", number),
                **common,
            )
            for number in numbers
        ]

    def _card_type(self, table: dict[str, Any], lines: TableLines) -> str | None:
        if "type" not in table:
            return "basic"
        value = table["type"]
        if value not in CARD_TYPES:
            shown = f'"{value}"' if isinstance(value, str) else _type_name(value)
            self.add(
                lines.line_of("type"),
                f'type {shown} is not a card type: use type = "basic" or type = "cloze"',
            )
            return None
        return value

    def _tags(self, table: dict[str, Any], lines: TableLines, where: str) -> list[str] | None:
        tags = self._string_list(table, "tags", lines, where, required=False)
        for tag in tags or ():
            if not _TAG.fullmatch(tag):
                self.add(
                    lines.line_of("tags"), f'tag "{tag}" has spaces or symbols: use e.g. "transfer-learning"'
                )
        return tags

    def _lab(self, table: dict[str, Any], lines: TableLines, where: str) -> str | None:
        if "lab" in table and table["lab"] == "":
            self.add(lines.line_of("lab"), "lab is empty: name a lab id or remove the key")
            return None
        lab = self._slug(table, "lab", lines, where, required=False)
        if lab is None or self.known_labs is None or lab in self.known_labs:
            return lab
        self.add(lines.line_of("lab"), f'unknown lab "{lab}": {self._lab_hint(lab)}')
        return None

    def _lab_hint(self, lab: str) -> str:
        import difflib

        known = sorted(self.known_labs or ())
        if not known:
            return "no labs are installed; remove the lab key"
        close = difflib.get_close_matches(lab, known, n=1, cutoff=0.6)
        if close:
            return f'did you mean "{close[0]}"?'
        return "known labs: " + ", ".join(known)

    def _cloze_numbers(self, card_type: str | None, front: str | None, lines: TableLines) -> list[int]:
        if front is None or card_type is None:
            return []
        if card_type == "basic":
            if cloze.has_deletion_markers(front):
                message = 'front has cloze deletions ({{c1::...}}) but the card is basic: add type = "cloze"'
                self.add(lines.line_of("front"), message)
            return []
        deletions, issues = cloze.parse(front)
        for issue in issues:
            self.add(lines.body_line("front") + front.count("\n", 0, issue.offset), issue.message)
        if not deletions and not issues:
            self.add(lines.line_of("front"), f"cloze card has no deletions: mark answers as {cloze.EXAMPLE}")
        return sorted({deletion.number for deletion in deletions})
