"""Packs: one TOML file of cards (see docs/packs.md), the data model and how a file is loaded.

`load_pack` either returns a `Pack` or raises `PackError` listing every problem found, each with the file,
line (and column where tomllib gives one), what is wrong and how to fix it. The rules a file must follow,
and the messages that say how to fix it, are in `cards.pack_format`. Given a `cache_dir`, a valid pack is
also cached and later loads of the unchanged file skip parsing and validating: `cards.pack_cache`, which
explains its speed tricks. Both are imported only when needed (a cache hit never imports the rules, nor
tomllib, json or the line index).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

FORMAT = 1  # the pack file format this cardlab reads (`format = 1`)
# A file with 100k broken cards must not take seconds to report: only this many problems are described.
MAX_PROBLEMS_PER_FILE = 100


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
    labs: tuple[str, ...] = ()  # folders of lab folders, relative to the pack file (`labs = ["labs/"]`)
    # (old card id, new card id) for each id a card names in `was = [...]`: history to move (cards.renames)
    renames: tuple[tuple[str, str], ...] = ()

    @property
    def lab_dirs(self) -> tuple[Path, ...]:
        return tuple(self.path.parent / folder for folder in self.labs)

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
    """sha256 of the JSON array [type, front, back, cloze_index] (as `json.dumps(..., ensure_ascii=False)`
    writes it; built from json's C string encoder directly, which is several times faster per card)."""
    quote = _json_quote or _import_json_quote()
    index = "null" if cloze_index is None else str(cloze_index)
    payload = f"[{quote(card_type)}, {quote(front)}, {quote(back)}, {index}]"
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


_json_quote: Callable[[str], str] | None = None


def _import_json_quote() -> Callable[[str], str]:
    global _json_quote
    from json.encoder import encode_basestring  # json costs ~7 ms to import: only when hashing

    _json_quote = encode_basestring
    return encode_basestring


def load_pack(
    path: str | Path, known_labs: Collection[str] | None = None, cache_dir: Path | None = None
) -> Pack:
    """Load and validate one pack file. Lab ids are only checked when `known_labs` is given.

    With `cache_dir`, a valid pack is cached there and later loads of the unchanged file skip parsing."""
    pack, _ = _load(Path(path), known_labs, cache_dir)
    return pack


def load_packs(
    paths: Iterable[str | Path], known_labs: Collection[str] | None = None, cache_dir: Path | None = None
) -> list[Pack]:
    """Load every pack in `paths` (a folder gives each `*.toml` in it); all problems of all files at once."""
    packs: list[Pack] = []
    problems: list[Problem] = []
    first_use: dict[str, tuple[Path, int]] = {}
    for path in expand_paths(paths):
        try:
            pack, id_line = _load(path, known_labs, cache_dir)
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
    from cards._lines import index_lines

    return index_lines(text).pack_table().line_of("id")


# --- reading ------------------------------------------------------------------------------------------


def _load(path: Path, known_labs: Collection[str] | None, cache_dir: Path | None) -> tuple[Pack, int]:
    from cards.pack_cache import PackCache, collector_paused

    cache = PackCache.open(cache_dir, path, known_labs) if cache_dir is not None else None
    cached = cache.read(path) if cache is not None else None
    if cached is not None:
        return cached
    read_ns = time.time_ns()
    raw = _read_bytes(path)
    text = _decode(path, raw)
    from cards.pack_format import parse_and_check

    with collector_paused():
        pack, id_line = parse_and_check(path, text, known_labs)
    if cache is not None:
        cache.write(pack, id_line, raw, read_ns)
    return pack, id_line


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise PackError([Problem(path, 1, None, "no such file: check the path")]) from None
    except IsADirectoryError:
        raise PackError([Problem(path, 1, None, "is a folder: give a .toml file")]) from None
    except OSError as error:
        raise PackError([Problem(path, 1, None, f"cannot read the file: {error.strerror}")]) from None


def _decode(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")  # an editor's byte-order mark is harmless
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        bad = raw[error.start : error.start + 1].hex()
        message = f"the file is not UTF-8 text (byte 0x{bad}): save it with UTF-8 encoding"
        raise PackError([Problem(path, line, column, message)]) from None
