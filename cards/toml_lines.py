"""Line numbers for the keys of a TOML file: cardlab's one indexer, for packs and for lab.toml files.

tomllib returns plain dicts without positions, so this scans the raw text once (after tomllib accepted it)
and records where each table starts and where each key inside it is: the root, `[pack]` and each
`[[cards]]` on a fast path, any other table (`[question]`, the n-th `[[params]]`) by its path
(`SourceLines.table(("params", 0))`). It only needs to be right for ordinary files; for odd but valid TOML
it falls back to the nearest table header. `index_tables` is a much cheaper index (table header lines
only) that is enough for a pack without problems. `did_you_mean` words an unknown key's hint the same way
for packs and labs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

# One whole ordinary statement line, with the blank and comment lines before it, matched in a single step
# (most lines of most packs): a `[[cards]]` or `[pack]` header, `bare-key = value` where the value is a
# string (multi-line ones included), a bare scalar or a one-line array of those, or nothing (a blank line).
# Any other line takes the general, character-level path below.
# Strings are written as "unrolled loops" (a run of plain characters, then escape + run, ...): several
# times faster in `re` than one alternation per character.
_BASIC = r'"[^"\\\n]*(?:\\[^\n][^"\\\n]*)*"'
_LITERAL = r"'[^'\n]*'"
_MULTILINE_BASIC = r'"""[^"\\]*(?:(?:\\[\s\S]|"(?!""))[^"\\]*)*"""(?:""?)?'  # may end with two extra quotes
_MULTILINE_LITERAL = r"'''[\s\S]*?'''(?:''?)?"
_SCALAR = r"[\w.:+-]+"
_ITEM = rf"(?:{_BASIC}|{_LITERAL}|{_SCALAR})"
_ARRAY = rf"\[[ \t]*(?:{_ITEM}[ \t]*,[ \t]*)*(?:{_ITEM}[ \t]*)?\]"
_VALUE = rf"{_MULTILINE_BASIC}|{_MULTILINE_LITERAL}|{_BASIC}|{_LITERAL}|{_ARRAY}|{_SCALAR}"
_SIMPLE_STATEMENT = re.compile(
    r"(?:[ \t]*(?:#[^\n]*)?\r?\n)*"  # blank and comment lines before the statement
    r"(?P<statement>)[ \t]*(?:\[\[[ \t]*(?P<cards>cards)[ \t]*\]\]|\[[ \t]*(?P<pack>pack)[ \t]*\]"
    rf"|(?P<key>[A-Za-z0-9_-]+)[ \t]*=[ \t]*(?P<value>{_VALUE}))?"
    r"[ \t]*(?:#[^\n]*)?\r?(?:\n|\Z)"
)
_OPENS_WITH_NEWLINE = ('"""\n', '"""\r\n', "'''\n", "'''\r\n")

# Inside a value only strings, comments, brackets and newlines matter.
_VALUE_STOPS = re.compile(r"[\"'#\[\]{}\n]")
# Inside a string only these characters matter: its quote, a newline and (in "..." strings) a backslash.
_STRING_STOPS = {
    ('"', True): re.compile(r'["\\\n]'),
    ("'", False): re.compile(r"['\n]"),
}


@dataclass
class TableLines:
    header: int  # line of the table header (1 for the root table)
    keys: dict[str, int] = field(default_factory=dict)  # first line of each key
    bodies: dict[str, int] = field(default_factory=dict)  # line where a string value's text begins

    def line_of(self, key: str) -> int:
        return self.keys.get(key, self.header)

    def body_line(self, key: str) -> int:
        return self.bodies.get(key, self.line_of(key))

    def record(self, key: str, line: int) -> None:
        self.keys.setdefault(key, line)


TablePath = tuple[str | int, ...]  # ("question",), ("params", 0) for the first [[params]]


@dataclass
class SourceLines:
    root: TableLines = field(default_factory=lambda: TableLines(1))
    pack: TableLines | None = None
    cards: list[TableLines] = field(default_factory=list)
    other: dict[TablePath, TableLines] = field(default_factory=dict)  # every other table, by path
    _open: tuple[list[str], TableLines] | None = None  # the other table whose keys come next
    _arrays: dict[tuple[str, ...], int] = field(default_factory=dict)  # [[name]] tables seen so far

    def table(self, path: TablePath) -> TableLines | None:
        """The table at `path` (() is the root), None when the file has no such table header."""
        if not path:
            return self.root
        if path == ("pack",):
            return self.pack
        if path[0] == "cards" and len(path) == 2 and isinstance(path[1], int):
            return self.cards[path[1]] if path[1] < len(self.cards) else None
        return self.other.get(path)

    def open_other(self, path: list[str], is_array: bool, line: int) -> None:
        """A header of a table other than [pack] and [[cards]]: its keys are recorded under its path."""
        key: TablePath = tuple(path)
        if is_array:
            index = self._arrays[tuple(path)] = self._arrays.get(tuple(path), -1) + 1
            key = (*path, index)
        table = self.other.setdefault(key, TableLines(line))
        self._open = (path, table)

    def pack_table(self) -> TableLines:
        return self.pack or TableLines(self.root.line_of("pack"))

    def card_table(self, index: int) -> TableLines:
        if index < len(self.cards):
            return self.cards[index]
        return TableLines(self.root.line_of("cards"))  # e.g. cards written as an inline array

    def table_for(self, path: list[str], line: int) -> tuple[TableLines, str] | None:
        """The table that holds `path` (relative to the root) and the key to record there."""
        if not path:
            return None
        self.root.record(path[0], line)
        if len(path) == 1:
            return self.root, path[0]
        if path[0] == "pack":
            if self.pack is None:
                self.pack = TableLines(line)
            return self.pack, path[1]
        if path[0] == "cards" and self.cards:
            return self.cards[-1], path[1]
        if self._open is not None:
            prefix, table = self._open
            if path[: len(prefix)] == prefix and len(path) > len(prefix):
                return table, path[len(prefix)]
        return None


class _Scanner:
    """A tolerant TOML tokenizer that only tracks lines, headers, keys, strings and brackets."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.lines = SourceLines()
        self.table_path: list[str] = []
        self.key_table: TableLines | None = self.lines.root  # where a bare key of table_path goes, if simple

    def run(self) -> SourceLines:
        text, end = self.text, len(self.text)
        simple_statement = _SIMPLE_STATEMENT.match
        count = text.count
        while self.pos < end:
            found = simple_statement(text, self.pos)
            if found is None:
                self._statement()
                continue
            # Record the line just as the general path would (this loop is the hot path: kept inline).
            start, statement, self.pos = self.pos, found.start("statement"), found.end()
            self.line += count("\n", start, statement)
            cards, pack, key, value = found.group("cards", "pack", "key", "value")
            if key is not None:
                self._record_key(key, value)
            elif cards:
                self._enter_table(["cards"], is_array=True)
            elif pack:
                self._enter_table(["pack"], is_array=False)
            self.line += count("\n", statement, self.pos)
        return self.lines

    def _record_key(self, key: str, value: str) -> None:
        line, table = self.line, self.key_table
        if table is None:
            target = self.lines.table_for(self.table_path + [key], line)
            if target is None:
                return
            table, key = target
        table.keys.setdefault(key, line)
        table.bodies.setdefault(key, line + 1 if value.startswith(_OPENS_WITH_NEWLINE) else line)

    def _peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def _skip_blanks(self) -> None:
        while self._peek() in (" ", "\t"):
            self.pos += 1

    def _statement(self) -> None:
        self._skip_blanks()
        char = self._peek()
        if char == "[":
            self._header()
        elif char not in ("", "#", "\n", "\r"):
            self._key_value()
        self._rest_of_line()

    def _header(self) -> None:
        is_array = self._peek(1) == "["
        self.pos += 2 if is_array else 1
        path = self._key_path(stop="]")
        self.pos += 2 if is_array else 1
        self._enter_table(path, is_array)

    def _enter_table(self, path: list[str], is_array: bool) -> None:
        if is_array and path == ["cards"]:
            self.lines.root.record("cards", self.line)
            self.lines.cards.append(TableLines(self.line))
            self.table_path = ["cards"]
            self.key_table = self.lines.cards[-1]
            return
        if path == ["pack"]:
            self.lines.root.record("pack", self.line)
            if self.lines.pack is None:
                self.lines.pack = TableLines(self.line)
            self.table_path = ["pack"]
            self.key_table = self.lines.pack
            return
        self.lines.table_for(path, self.line)
        self.lines.open_other(path, is_array, self.line)
        self.table_path = path
        self.key_table = None  # keys of other tables go through SourceLines.table_for

    def _key_value(self) -> None:
        line = self.line
        key = self._key_path(stop="=")
        if self._peek() != "=":
            return
        self.pos += 1
        target = self.lines.table_for(self.table_path + key, line) if key else None
        self._skip_blanks()
        body_line = self._value()
        if target is not None:
            table, name = target
            table.record(name, line)
            table.bodies.setdefault(name, body_line)

    def _key_path(self, stop: str) -> list[str]:
        """Dotted key segments up to `stop` (not consumed), with quotes removed."""
        parts: list[str] = []
        current: list[str] = []
        while (char := self._peek()) not in ("", "\n", stop):
            if char in ('"', "'"):
                end = self.text.find(char, self.pos + 1)
                end = len(self.text) if end < 0 else end
                current.append(self.text[self.pos + 1 : end])
                self.pos = end + 1
                continue
            if char == ".":
                parts.append("".join(current).strip())
                current = []
            else:
                current.append(char)
            self.pos += 1
        parts.append("".join(current).strip())
        return parts

    def _value(self) -> int:
        """Skip one value (strings, arrays and inline tables may span lines); returns where its text begins."""
        body_line = self.line
        depth = 0
        while (found := _VALUE_STOPS.search(self.text, self.pos)) is not None:
            self.pos = found.start()
            char = found.group()
            if self.text.startswith(('"""', "'''"), self.pos):
                delimiter = self.text[self.pos : self.pos + 3]
                if depth == 0 and self.text.startswith(("\n", "\r\n"), self.pos + 3):
                    body_line = self.line + 1  # TOML trims a newline right after the opening quotes
                self._skip_string(delimiter, escapes=delimiter == '"""')
            elif char in ('"', "'"):
                self._skip_string(char, escapes=char == '"')
            elif char == "#":
                self._skip_comment()
            elif char in "[{":
                depth += 1
                self.pos += 1
            elif char in "]}":
                depth = max(0, depth - 1)
                self.pos += 1
            elif depth == 0:  # a newline outside brackets ends the value
                return body_line
            else:
                self._newline()
        self.pos = len(self.text)
        return body_line

    def _skip_string(self, delimiter: str, escapes: bool) -> None:
        self.pos += len(delimiter)
        stops = _STRING_STOPS[(delimiter[0], escapes)]
        while (found := stops.search(self.text, self.pos)) is not None:
            self.pos = found.start()
            char = found.group()
            if char == "\\":
                if self._peek(1) == "\n":
                    self.line += 1
                self.pos += 2
            elif char == "\n":
                if len(delimiter) == 1:
                    return  # unterminated one-line string: tomllib would have refused it
                self._newline()
            elif self.text.startswith(delimiter, self.pos):
                self.pos += len(delimiter)
                extra_quotes = 0
                while len(delimiter) == 3 and extra_quotes < 2 and self._peek() == delimiter[0]:
                    self.pos += 1  # `""""` ends a multi-line string whose text ends with a quote
                    extra_quotes += 1
                return
            else:
                self.pos += 1  # a lone quote inside a multi-line string
        self.pos = len(self.text)

    def _skip_comment(self) -> None:
        end = self.text.find("\n", self.pos)
        self.pos = len(self.text) if end < 0 else end

    def _rest_of_line(self) -> None:
        end = self.text.find("\n", self.pos)
        if end < 0:
            self.pos = len(self.text)
        else:
            self.pos = end
            self._newline()

    def _newline(self) -> None:
        self.pos += 1
        self.line += 1


def index_lines(text: str) -> SourceLines:
    return _Scanner(text).run()


def did_you_mean(key: str, allowed: Iterable[str]) -> str:
    """The hint after an unknown key: the closest allowed key, or the list of them."""
    import difflib  # only needed on this error path

    options = sorted(allowed)
    close = difflib.get_close_matches(key, options, n=1, cutoff=0.6)
    if close:
        return f'did you mean "{close[0]}"?'
    return "allowed keys: " + ", ".join(options)


# A `[[cards]]` header line: found after its newline (a literal first character makes `re` search ~3x faster
# than a ^ anchor in MULTILINE mode); one on the file's first line is matched separately.
_CARDS_HEADER = re.compile(r"\n[ \t]*\[\[[ \t]*cards[ \t]*\]\]")
_CARDS_HEADER_FIRST = re.compile(r"[ \t]*\[\[[ \t]*cards[ \t]*\]\]")


def index_tables(text: str, n_cards: int) -> SourceLines | None:
    """A much cheaper index of a file tomllib accepted with `n_cards` [[cards]] tables: the root and
    [pack] keys as `index_lines` gives them, but each card only with its header line. Enough for a valid
    pack (key lines only ever appear in problem messages: redo those with `index_lines`).

    None where the headers cannot be found this way: without multi-line strings, a line starting with
    `[[cards]]` can only be a header (an array cannot hold the bare word), so the matches are the card
    tables when there is one per card and [pack] comes before them."""
    if n_cards == 0 or '"""' in text or "'''" in text:
        return None
    headers = [found.start() + 1 for found in _CARDS_HEADER.finditer(text)]  # where each line starts
    if _CARDS_HEADER_FIRST.match(text):
        headers.insert(0, 0)
    if len(headers) != n_cards:
        return None
    lines = _Scanner(text[: headers[0]]).run()
    if lines.pack is None:
        return None
    line = text.count("\n", 0, headers[0]) + 1
    lines.root.record("cards", line)
    lines.cards.append(TableLines(line))
    for previous, start in zip(headers, headers[1:], strict=False):
        line += text.count("\n", previous, start)
        lines.cards.append(TableLines(line))
    return lines


# --- lines inside string values -----------------------------------------------------------------------
# Decoded text and source differ: a `\n` escape is a newline that is not a source line, a `\` at the end of
# a line joins lines, and a value in an inline table or array has no key line of its own. So a problem at
# an offset of a decoded string is located by finding the string's token in the source and walking it.

_TOKEN_STOPS = re.compile(r"[\"'#\n]")
_ESCAPE_WIDTHS = {"u": 6, "U": 10}  # \uXXXX and \UXXXXXXXX; every other escape is two characters


@dataclass(frozen=True)
class StringToken:
    start: int  # offset of the opening quote in the source
    line: int  # line of the opening quote
    delimiter: str  # '"', "'", '"""' or "'''"


class StringIndex:
    """Every string token of a TOML text, found by decoded value (built only on the error path)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._by_value: dict[str, list[StringToken]] | None = None

    def line_of(self, value: str, offset: int, near_line: int) -> int | None:
        """Source line of `value[offset]` for the token of `value` at or after `near_line` (else the first)."""
        tokens = self._index().get(value)
        if not tokens:
            return None
        token = next((t for t in tokens if t.line >= near_line), tokens[0])
        return _line_in_token(self.text, token, offset)

    def _index(self) -> dict[str, list[StringToken]]:
        if self._by_value is None:
            self._by_value = {}
            for token, raw in _string_tokens(self.text):
                value = _decode_token(raw)
                if value is not None:
                    self._by_value.setdefault(value, []).append(token)
        return self._by_value


def _string_tokens(text: str) -> Iterator[tuple[StringToken, str]]:
    scanner = _Scanner(text)
    while (found := _TOKEN_STOPS.search(text, scanner.pos)) is not None:
        scanner.line += text.count("\n", scanner.pos, found.start())
        scanner.pos = found.start()
        char = found.group()
        if char == "#":
            scanner._skip_comment()
        elif char == "\n":
            scanner._newline()
        else:
            delimiter = char * 3 if text.startswith(char * 3, scanner.pos) else char
            start, line = scanner.pos, scanner.line
            scanner._skip_string(delimiter, escapes=char == '"')
            yield StringToken(start, line, delimiter), text[start : scanner.pos]


def _decode_token(raw: str) -> str | None:
    import tomllib

    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except (tomllib.TOMLDecodeError, KeyError):
        return None  # e.g. a quoted key, not a value
    return value if isinstance(value, str) else None


def _line_in_token(text: str, token: StringToken, offset: int) -> int:
    """Walk the token's source, counting decoded characters, to the line of decoded character `offset`."""
    pos, line = token.start + len(token.delimiter), token.line
    if len(token.delimiter) == 3 and text.startswith(("\n", "\r\n"), pos):
        pos, line = text.index("\n", pos) + 1, line + 1  # TOML trims this newline
    escapes, decoded = token.delimiter[0] == '"', 0
    while True:
        if escapes and text.startswith("\\", pos) and text[pos + 1 : pos + 2] in (" ", "\t", "\r", "\n"):
            pos += 1
            while pos < len(text) and text[pos] in " \t\r\n":  # a line-ending backslash drops them
                line += text[pos] == "\n"
                pos += 1
            continue
        if decoded >= offset or pos >= len(text):
            return line
        if escapes and text[pos] == "\\":
            pos += _ESCAPE_WIDTHS.get(text[pos + 1 : pos + 2], 2)
        else:
            line += text[pos] == "\n"
            pos += 2 if text.startswith("\r\n", pos) else 1
        decoded += 1
