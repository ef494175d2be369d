"""The pack format's rules: parse a pack file's TOML and validate it, with a fix for every problem.

`parse_and_check(path, text, known_labs)` gives the `Pack` and the line of its id, or raises `PackError`
with every problem (at most `MAX_PROBLEMS_PER_FILE` described), each at the line of the key it is about.
TOML syntax errors get a hint on how to fix them (`syntax_problem`, also used for `lab.toml` files).
docs/packs.md is the user-facing description of the same rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cards import cloze
from cards.pack_cache import card_from_fields
from cards.pack_model import FORMAT, MAX_PROBLEMS_PER_FILE, Card, Pack, PackError, Problem, content_hash
from cards.toml_lines import did_you_mean

if TYPE_CHECKING:
    from cards.toml_lines import SourceLines, StringIndex, TableLines

CARD_TYPES = ("basic", "cloze")
PACK_KEYS = ("id", "title", "version", "authors", "description", "license", "format", "labs")
CARD_KEYS = ("id", "type", "front", "back", "tags", "lab", "source", "notes", "was")
ROOT_KEYS = ("pack", "cards")

_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_TAG = re.compile(r"[\w][\w:/.+-]*")
_IDENT = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
_SEMVER = re.compile(rf"(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)(?:-{_IDENT})?(?:\+{_IDENT})?")
_TOML_POSITION = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$")


def parse_and_check(path: Path, text: str, known_labs: Collection[str] | None) -> tuple[Pack, int]:
    """The pack and the line of its id, or PackError listing every problem."""
    from cards.toml_lines import index_lines, index_tables

    data = _parse_toml(path, text)
    cards = data.get("cards")
    quick = index_tables(text, len(cards)) if isinstance(cards, list) else None
    checker = _Checker(path, text, quick or index_lines(text), known_labs)
    pack = checker.check(data)
    if checker.problems and quick is not None:  # the quick index lacks the key lines problems cite
        checker = _Checker(path, text, index_lines(text), known_labs)
        pack = checker.check(data)
    if checker.problems or pack is None:
        raise PackError(checker.all_problems())
    return pack, checker.lines.pack_table().line_of("id")


def _parse_toml(path: Path, text: str) -> dict[str, Any]:
    import tomllib  # ~8 ms to import: not needed when the pack comes from the cache

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PackError([syntax_problem(path, text, str(error))]) from None
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


def syntax_problem(path: Path, text: str, error: str) -> Problem:
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


def _unknown_key_message(key: str, where: str, allowed: Iterable[str]) -> str:
    return f'unknown key "{key}" {where}: {did_you_mean(key, allowed)}'


def _slug_hint(value: str) -> str:
    suggestion = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
    example = f'e.g. "{suggestion}"' if suggestion and suggestion != value else 'e.g. "lesson-4"'
    return f"use lowercase letters, digits and single hyphens ({example})"


class _Checker:
    """Validates parsed TOML against the pack format, collecting every problem with its line."""

    def __init__(self, path: Path, text: str, lines: SourceLines, known_labs: Collection[str] | None) -> None:
        self.path = path
        self.text = text
        self.lines = lines
        self._strings: StringIndex | None = None
        self.known_labs = known_labs
        self.problems: list[Problem] = []
        self.more = 0  # problems past MAX_PROBLEMS_PER_FILE: counted, not described
        self._claims: list[tuple[list[str], TableLines, list[Card]]] = []  # each card's `was`, lines, cards

    def add(self, line: int, message: str | Callable[[], str]) -> None:
        """Record a problem; `message` may be a function, so a costly hint is only built when shown."""
        if len(self.problems) >= MAX_PROBLEMS_PER_FILE:
            self.more += 1
            return
        text = message() if callable(message) else message
        self.problems.append(Problem(self.path, max(1, line), None, text))

    def all_problems(self) -> list[Problem]:
        """The problems in line order, then one that says how many more were not described."""
        problems = sorted(self.problems, key=lambda p: (p.line, p.column or 0))
        if self.more:
            last = problems[-1].line if problems else 1
            shown = f"only the first {MAX_PROBLEMS_PER_FILE} are listed"
            problems_word = "problem" if self.more == 1 else "problems"
            problems.append(
                Problem(self.path, last, None, f"and {self.more} more {problems_word} in this file ({shown})")
            )
        return problems

    def check(self, data: dict[str, Any]) -> Pack | None:
        self._unknown_keys(data, ROOT_KEYS, self.lines.root, "at the top level")
        header = self._pack_header(data.get("pack"))
        cards = self._cards(data.get("cards"), header["id"] if header else "")
        if header is None or cards is None:
            return None
        return Pack(path=self.path, cards=cards, renames=self._renames(), **header)

    def _unknown_keys(
        self, table: dict[str, Any], allowed: tuple[str, ...], lines: TableLines, where: str
    ) -> None:
        for key in table:
            if key not in allowed:
                self.add(lines.line_of(key), partial(_unknown_key_message, key, where, allowed))

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
        labs = self._string_list(table, "labs", lines, "[pack]", required=False)
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
            "labs": tuple(labs or ()),
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
        if not isinstance(value, str):
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            hint = f'put it in quotes: {key} = "{value}"' if numeric else "use a quoted string"
            self.add(lines.line_of(key), f"{key} must be a string, not {_type_name(value)}: {hint}")
            return None
        if required and not value.strip():
            self.add(lines.line_of(key), f"{key} is empty: write the {key}")
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
        if isinstance(value, list) and value and all(type(item) is str and item.strip() for item in value):
            return value  # the usual case, checked in one pass
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
        self._check_claims(first_line)
        return tuple(result)

    def _check_claims(self, note_lines: dict[str, int]) -> None:
        """A `was` id must have left the pack, and only one card may claim it."""
        claimed_by: dict[str, str] = {}
        for was, lines, made in self._claims:
            new_id = made[0].note_id if made else "?"
            for old in was:
                if old in note_lines:
                    message = (
                        f'was = ["{old}"] names a card that is still in this pack (line {note_lines[old]}): '
                        f'history only moves from an id that left the pack; remove "{old}" from was'
                    )
                    self.add(lines.line_of("was"), message)
                elif old in claimed_by:
                    message = f'"{old}" is already in the was of card "{claimed_by[old]}": only one card can take its history'
                    self.add(lines.line_of("was"), message)
                else:
                    claimed_by[old] = new_id

    def _renames(self) -> tuple[tuple[str, str], ...]:
        """(old card id, new card id) pairs; a cloze note's `was` renames each of its deletions' cards."""
        pairs = []
        for was, _, made in self._claims:
            for old in was:
                for card in made:
                    old_id = old if card.cloze_index is None else f"{old}#c{card.cloze_index}"
                    pairs.append((old_id, card.id))
        return tuple(pairs)

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
        was = self._was(table, lines, where) if "was" in table else None  # rare: skip the calls
        numbers = self._cloze_numbers(card_type, front, lines)
        if len(self.problems) != before or note_id is None or front is None or card_type is None:
            return []
        values = {
            "pack_id": pack_id,
            "id": note_id,
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
            "cloze_index": None,
            "content_hash": "",
        }
        if card_type == "basic":
            values["content_hash"] = content_hash("basic", front, back or "", None)
            made = [card_from_fields(values)]
        else:
            made = [
                card_from_fields(
                    {
                        **values,
                        "id": f"{note_id}#c{number}",
                        "cloze_index": number,
                        "content_hash": content_hash("cloze", front, back or "", number),
                    }
                )
                for number in numbers
            ]
        if was:
            self._claims.append((was, lines, made))
        return made

    def _was(self, table: dict[str, Any], lines: TableLines, where: str) -> list[str]:
        """The card's former ids (`was = ["old-id"]`), each a slug."""
        was = self._string_list(table, "was", lines, where, required=False) or []
        for old in was:
            if not _SLUG.fullmatch(old):
                self.add(lines.line_of("was"), f'was "{old}" is not a valid card id: {_slug_hint(old)}')
        return was

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
        self.add(lines.line_of("lab"), lambda: f'unknown lab "{lab}": {self._lab_hint(lab)}')
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
            self.add(self._line_in_string(front, issue.offset, lines.line_of("front")), issue.message)
        if not deletions and not issues:
            self.add(lines.line_of("front"), f"cloze card has no deletions: mark answers as {cloze.EXAMPLE}")
        return sorted({deletion.number for deletion in deletions})

    def _line_in_string(self, value: str, offset: int, key_line: int) -> int:
        """The source line of `value[offset]`: escapes and line continuations make it differ from
        counting newlines in the decoded value."""
        if self._strings is None:
            from cards.toml_lines import StringIndex

            self._strings = StringIndex(self.text)
        return self._strings.line_of(value, offset, key_line) or key_line
