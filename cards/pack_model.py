"""The pack data model: a pack file's cards (`Card`), the pack (`Pack`), and its problems (`Problem`,
`PackError`). Named tuples: immutable and compared by value like frozen dataclasses, but far cheaper to
define (these three took ~2.5 ms of the app's start-up as dataclasses) and to build, 100,000 at a time
from the pack cache; `_replace` and `_fields` stand in for `dataclasses.replace` and `fields`. How a file
becomes a Pack is `cards.pack` (the loader), `cards.pack_format` (the rules) and `cards.pack_cache` (the
cache)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

FORMAT = 1  # the pack file format this cardlab reads (`format = 1`)
# A file with 100k broken cards must not take seconds to report: only this many problems are described.
MAX_PROBLEMS_PER_FILE = 100


class Card(NamedTuple):
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


class Pack(NamedTuple):
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


class Problem(NamedTuple):
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
    quote, sha256 = _hashing or _import_hashing()
    index = "null" if cloze_index is None else str(cloze_index)
    payload = f"[{quote(card_type)}, {quote(front)}, {quote(back)}, {index}]"
    return sha256(payload.encode("utf-8")).hexdigest()


_hashing: tuple[Callable[[str], str], Callable[[bytes], Any]] | None = None


def _import_hashing() -> tuple[Callable[[str], str], Callable[[bytes], Any]]:
    """json's string encoder and sha256, imported at the first hash: a start-up that reads its packs
    from the cache hashes nothing (json and hashlib took ~3 ms of it)."""
    global _hashing
    from hashlib import sha256
    from json.encoder import encode_basestring

    _hashing = (encode_basestring, sha256)
    return _hashing
