"""`cardlab doctor`: check the review store and, when it is damaged, rebuild it from every readable row.

The damaged file is never edited: the rows SQLite can still read are copied into a fresh store next to
it, the damaged file is renamed aside (kept for `sqlite3 .recover` or a backup tool), and the fresh store
is renamed into its place. Each step is a rename, so an interruption never leaves half a store in place.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cards.store import _CARD_COLUMNS, _REVIEW_COLUMNS, Store, _move_aside  # one package: shared on purpose

_MAX_SKIPS = 64  # how many times a scan jumps past an unreadable stretch of the review log
_MAX_ID = 2**63 - 1  # SQLite's largest rowid


@dataclass
class Recovery:
    healthy: bool
    problems: list[str] = field(default_factory=list)  # what the integrity check found
    card_states: int = 0  # rows recovered
    reviews: int = 0
    lost: list[str] = field(default_factory=list)  # what could not be read
    backup: Path | None = None  # where the damaged file went


def check(path: Path) -> list[str]:
    """What is wrong with the store at `path`; empty when it is sound."""
    try:
        with _read_only(path) as db:
            found = [row[0] for row in db.execute("PRAGMA integrity_check(20)")]
            problems = [] if found == ["ok"] else found
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as err:
        return [str(err)]
    return problems + [
        f"table {table} is missing" for table in ("card_state", "review_log") if table not in tables
    ]


def recover(path: Path) -> Recovery:
    """Check the store at `path`; if damaged, rebuild it from its readable rows (see the module doc)."""
    problems = check(path) if path.exists() else []
    if not problems:
        return Recovery(healthy=True)
    report = Recovery(healthy=False, problems=problems)
    fresh = path.with_name(path.name + ".recovering")
    for leftover in (fresh, *(fresh.with_name(fresh.name + s) for s in ("-wal", "-shm"))):
        leftover.unlink(missing_ok=True)  # from an earlier, interrupted doctor
    cards, reviews = _read_rows(path, report)
    with Store.open(fresh) as store, store.transaction():
        store.restore_rows(cards, reviews)
    report.card_states, report.reviews = len(cards), len(reviews)
    report.backup = _move_aside(path, "damaged")
    os.replace(fresh, path)
    return report


def _read_rows(path: Path, report: Recovery) -> tuple[list[tuple], list[tuple]]:
    copy = _readable_copy(path)
    try:
        with _read_only(copy) as db:
            cards = list(_scan(db, f"SELECT {_CARD_COLUMNS} FROM card_state", "card states", report))
            reviews = list(_scan_reviews(db, report))
    except sqlite3.DatabaseError as err:
        report.lost.append(f"everything: the file cannot be read at all ({err})")
        return [], []
    finally:
        for name in (copy, copy.with_name(copy.name + "-wal"), copy.with_name(copy.name + "-shm")):
            name.unlink(missing_ok=True)
    return cards, reviews


def _readable_copy(path: Path) -> Path:
    """A copy of the store to read from (the damaged file is never opened for writing). A truncated file
    claims more pages than it holds, which makes SQLite refuse every page: the copy claims only its own."""
    data = bytearray(path.read_bytes())
    if not data.startswith(_MAGIC) and (header := _rebuilt_header(data)) is not None:
        data[:100] = header
    if data.startswith(_MAGIC) and len(data) >= 100:
        page_size = int.from_bytes(data[16:18], "big")
        page_size = 65536 if page_size == 1 else page_size
        pages = len(data) // page_size if page_size >= 512 else 0
        if pages:
            del data[pages * page_size :]
            data[28:32] = pages.to_bytes(4, "big")
    copy = path.with_name(path.name + ".reading")
    copy.write_bytes(bytes(data))
    wal = path.with_name(path.name + "-wal")
    if wal.exists():
        copy.with_name(copy.name + "-wal").write_bytes(wal.read_bytes())
    return copy


_MAGIC = b"SQLite format 3\x00"
_BTREE_PAGE_TYPES = {2, 5, 10, 13}  # the first byte of every b-tree page: interior/leaf, index/table


def _rebuilt_header(data: bytearray) -> bytes | None:
    """A file header for pages whose own header is overwritten: the first page size at which every
    page (past the 100-byte header on page 1) starts like a b-tree page. The rest of the header gets
    SQLite's defaults (UTF-8, no free list: the free pages are simply not read)."""
    for size in (4096, 1024, 2048, 8192, 16384, 32768, 65536, 512):
        pages = len(data) // size
        offsets = [100, *(size * page for page in range(1, min(pages, 64)))]
        if pages and all(data[offset] in _BTREE_PAGE_TYPES for offset in offsets):
            header = bytearray(_MAGIC + bytes(84))
            header[16:18] = (size if size < 65536 else 1).to_bytes(2, "big")
            header[18:24] = bytes(
                [1, 1, 0, 64, 32, 32]
            )  # rollback journal, no reserved bytes, fixed fractions
            header[28:32] = pages.to_bytes(4, "big")
            header[40:44] = (1).to_bytes(4, "big")  # schema cookie
            header[44:48] = (4).to_bytes(4, "big")  # schema format
            header[56:60] = (1).to_bytes(4, "big")  # text encoding: UTF-8
            return bytes(header)
    return None


def _scan(db: sqlite3.Connection, sql: str, what: str, report: Recovery) -> Iterator[tuple]:
    """Rows of `sql` until the first unreadable one."""
    try:
        yield from db.execute(sql)
    except sqlite3.DatabaseError as err:
        report.lost.append(f"{what} after the last readable one ({err})")


def _scan_reviews(db: sqlite3.Connection, report: Recovery) -> Iterator[tuple]:
    """Reviews in id order; past an unreadable stretch, jump ahead (doubling) and read on."""
    last, skips, step = 0, 0, 1
    columns = _review_columns(db)
    while skips <= _MAX_SKIPS and last < _MAX_ID:
        try:
            for row in db.execute(f"SELECT {columns}, id FROM review_log WHERE id > ? ORDER BY id", (last,)):
                last, step = row[-1], 1
                yield row
            return
        except sqlite3.DatabaseError as err:
            if skips == 0:
                report.lost.append(f"reviews from id {last + 1} on could not all be read ({err})")
            last, skips, step = min(last + step, _MAX_ID), skips + 1, step * 2


def _review_columns(db: sqlite3.Connection) -> str:
    """The review columns to read; a store from before the review kind reads every row as scheduled."""
    try:
        present = {row[1] for row in db.execute("PRAGMA table_info(review_log)")}
    except sqlite3.DatabaseError:
        present = set()
    return _REVIEW_COLUMNS if "kind" in present or not present else _REVIEW_COLUMNS.replace("kind", "0")


class _read_only:
    """A read-only connection that never creates the file, closed on exit."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)

    def __enter__(self) -> sqlite3.Connection:
        return self.db

    def __exit__(self, *exc: object) -> None:
        self.db.close()
