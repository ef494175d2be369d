"""The review store: each card's scheduling state and one row per review, in SQLite.

Times are integer milliseconds since the Unix epoch (UTC). The database runs in WAL mode with a busy
timeout, so two cardlab processes can study from the same home; every write happens inside
`Store.transaction()` (BEGIN IMMEDIATE), so an answer is either wholly stored or not at all.

A damaged file (not a database, a malformed page, a missing table) is left exactly as it is: `StoreError`
says what is wrong and that `cardlab doctor` (`recover`) can copy every readable row into a fresh store,
keeping the damaged file aside. A file written by a newer cardlab is moved aside to a timestamped backup.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

BUSY_TIMEOUT_MS = 10_000

# SQLite's verdicts on a file that is not (or no longer) a sound database.
_DAMAGED = {"SQLITE_NOTADB", "SQLITE_CORRUPT"}
_TABLES = ("card_state", "review_log")
DOCTOR_HINT = "run `cardlab doctor` to recover every readable row into a fresh store"

# Card states as stored; 1-3 are fsrs.State values.
NEW, LEARNING, REVIEW, RELEARNING = 0, 1, 2, 3

# Review kinds (review_log.kind): a scheduled answer moves the card's state; a cram answer (custom study
# without rescheduling) is only logged, and stats, limits and the optimizer leave it out.
SCHEDULED, CRAM = 0, 1


class StoreError(Exception):
    """The review store cannot be used; the message says why and what happened to the file."""


def _is_damage(err: sqlite3.DatabaseError) -> bool:
    """A damaged file, as opposed to a busy or read-only one; a dropped table reads as "no such table"."""
    return getattr(err, "sqlite_errorname", None) in _DAMAGED or "no such table" in str(err)


def _damaged(path: Path, err: object) -> StoreError:
    return StoreError(f"the review store {path} is damaged ({err}): {DOCTOR_HINT}")


@dataclass(slots=True)
class CardRow:
    """One card's scheduling state, keyed by (pack_id, card_id)."""

    pack_id: str
    card_id: str
    content_hash: str  # the card's content when it was last answered ("edited" when it differs)
    state: int = NEW
    step: int | None = None
    stability: float | None = None
    difficulty: float | None = None
    due_ms: int | None = None
    last_review_ms: int | None = None
    reps: int = 0
    lapses: int = 0
    buried_until_ms: int | None = None  # hidden until this instant (the next day rollover)
    suspended: bool = False
    tags: tuple[str, ...] = ()  # app tags, e.g. "leech"

    @property
    def key(self) -> tuple[str, str]:
        return (self.pack_id, self.card_id)


class ReviewRow(NamedTuple):
    """One answer in the review log (a named tuple: cheaper to define and make than a frozen dataclass)."""

    pack_id: str
    card_id: str
    content_hash: str
    rating: int  # 1 Again, 2 Hard, 3 Good, 4 Easy
    state_before: int  # NEW, LEARNING, REVIEW or RELEARNING
    state_after: int
    reviewed_at_ms: int
    duration_ms: int
    due_after_ms: int
    stability_after: float | None
    difficulty_after: float | None
    kind: int = SCHEDULED
    id: int | None = None


_CARD_COLUMNS = (
    "pack_id, card_id, content_hash, state, step, stability, difficulty, due_ms, last_review_ms, "
    "reps, lapses, buried_until_ms, suspended, tags"
)
_REVIEW_COLUMNS = (
    "pack_id, card_id, content_hash, rating, state_before, state_after, reviewed_at_ms, duration_ms, "
    "due_after_ms, stability_after, difficulty_after, kind"
)

# MIGRATIONS[i] brings a database from schema version i to i + 1; never edit one that has shipped.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE card_state (
        pack_id TEXT NOT NULL,
        card_id TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        state INTEGER NOT NULL,
        step INTEGER,
        stability REAL,
        difficulty REAL,
        due_ms INTEGER,
        last_review_ms INTEGER,
        reps INTEGER NOT NULL DEFAULT 0,
        lapses INTEGER NOT NULL DEFAULT 0,
        buried_until_ms INTEGER,
        suspended INTEGER NOT NULL DEFAULT 0,
        tags TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (pack_id, card_id)
    ) WITHOUT ROWID;
    CREATE TABLE review_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        pack_id TEXT NOT NULL,
        card_id TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 4),
        state_before INTEGER NOT NULL,
        state_after INTEGER NOT NULL,
        reviewed_at_ms INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        due_after_ms INTEGER NOT NULL,
        stability_after REAL,
        difficulty_after REAL
    );
    CREATE INDEX card_state_by_due ON card_state (pack_id, due_ms, state, suspended, buried_until_ms);
    CREATE INDEX review_log_by_time ON review_log (reviewed_at_ms, pack_id, state_before, rating, duration_ms);
    CREATE INDEX review_log_by_card ON review_log (pack_id, card_id, reviewed_at_ms);
    """,
    # 1 -> 2: the review kind (cram answers are logged apart); the indexes carry it so the stats' and the
    # limits' scans that leave cram out stay index-only.
    """
    ALTER TABLE review_log ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;
    DROP INDEX review_log_by_time;
    CREATE INDEX review_log_by_time ON review_log
        (reviewed_at_ms, pack_id, state_before, rating, duration_ms, kind);
    DROP INDEX review_log_by_card;
    CREATE INDEX review_log_by_card ON review_log (pack_id, card_id, reviewed_at_ms, kind);
    """,
    # 2 -> 3: an imported review's identity where it came from (Anki's revlog id), unique per pack: two
    # imports of the same deck at once cannot both add it, whatever each read before writing.
    """
    ALTER TABLE review_log ADD COLUMN source_id INTEGER;
    CREATE UNIQUE INDEX review_log_by_source ON review_log (pack_id, source_id) WHERE source_id IS NOT NULL;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
READABLE_SCHEMA_VERSION = 2  # the oldest schema every read understands (3 added a column reads never name)


def _card_row(values: Sequence) -> CardRow:
    (
        pack_id,
        card_id,
        content_hash,
        state,
        step,
        stability,
        difficulty,
        due,
        last,
        reps,
        lapses,
        buried,
        suspended,
        tags,
    ) = values
    return CardRow(
        pack_id,
        card_id,
        content_hash,
        state,
        step,
        stability,
        difficulty,
        due,
        last,
        reps,
        lapses,
        buried,
        bool(suspended),
        tuple(tags.split()) if tags else (),
    )


def _card_values(row: CardRow) -> tuple:
    return (
        row.pack_id,
        row.card_id,
        row.content_hash,
        row.state,
        row.step,
        row.stability,
        row.difficulty,
        row.due_ms,
        row.last_review_ms,
        row.reps,
        row.lapses,
        row.buried_until_ms,
        int(row.suspended),
        " ".join(row.tags),
    )


def _review_values(review: ReviewRow) -> tuple:
    return (
        review.pack_id,
        review.card_id,
        review.content_hash,
        review.rating,
        review.state_before,
        review.state_after,
        review.reviewed_at_ms,
        review.duration_ms,
        review.due_after_ms,
        review.stability_after,
        review.difficulty_after,
        review.kind,
    )


def _backup_path(path: Path, reason: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate = path.with_name(f"{path.name}.{reason}-{stamp}")
    counter = 1
    while candidate.exists():
        counter += 1
        candidate = path.with_name(f"{path.name}.{reason}-{stamp}-{counter}")
    return candidate


def _move_aside(path: Path, reason: str) -> Path:
    """Rename the database (and its WAL and shared-memory files) to a backup that is never reused."""
    backup = _backup_path(path, reason)
    for suffix in ("-wal", "-shm"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            companion.replace(backup.with_name(backup.name + suffix))
    path.replace(backup)
    return backup


def _probe(connection: sqlite3.Connection) -> None:
    """Fail now, with sqlite3.DatabaseError, on a missing table or an unreadable page of the tables and
    their indexes, rather than in the middle of a screen (a count reads every page of the smallest index)."""
    for table in _TABLES:
        connection.execute(f"SELECT count(*) FROM {table}").fetchone()


class Store:
    """Card states and the review log of one home. Open with `Store.open(path)`."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path

    # -- opening ---------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path) -> Store:
        """Open (creating if needed) the store at `path` and bring its schema up to date."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        except (OSError, sqlite3.Error) as err:
            raise StoreError(f"cannot open the review store {path}: {err}") from None
        try:
            version = cls._prepare(connection)
            if version <= SCHEMA_VERSION:
                _probe(connection)
        except sqlite3.DatabaseError as err:
            connection.close()
            if not _is_damage(err):
                raise StoreError(f"cannot use the review store {path}: {err}") from None
            raise _damaged(path, err) from None
        if version > SCHEMA_VERSION:
            connection.close()
            backup = _move_aside(path, f"schema-v{version}")
            raise StoreError(
                f"the review store {path} was written by a newer cardlab (schema version {version}; this one "
                f"knows up to {SCHEMA_VERSION}). It was moved to {backup} so nothing is overwritten; "
                "upgrade cardlab and move it back to keep your reviews."
            )
        return cls(connection, path)

    @classmethod
    def open_read_only(cls, path: str | Path) -> Store:
        """Open the store at `path` only to read it (`cardlab stats`, the `cards` list): nothing is created
        or migrated, so it works in a read-only home. A missing store, or one too old to read as it is,
        is opened with `open` (created, migrated) instead."""
        path = Path(path)
        if not path.exists():
            return cls.open(path)
        try:
            connection = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro",
                uri=True,
                isolation_level=None,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
        except sqlite3.Error as err:
            raise StoreError(f"cannot open the review store {path}: {err}") from None
        try:
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            found = connection.execute("SELECT version FROM schema_version").fetchone()
            version = found[0] if found else 0
            if version >= READABLE_SCHEMA_VERSION:
                _probe(connection)
        except sqlite3.DatabaseError as err:
            connection.close()
            if "no such table" in str(err):  # never set up: `open` makes it
                return cls.open(path)
            if not _is_damage(err):
                raise StoreError(f"cannot use the review store {path}: {err}") from None
            raise _damaged(path, err) from None
        if version > SCHEMA_VERSION:
            connection.close()
            raise StoreError(
                f"the review store {path} was written by a newer cardlab (schema version {version}; this one "
                f"knows up to {SCHEMA_VERSION}): upgrade cardlab to read it"
            )
        if version < SCHEMA_VERSION:
            connection.close()
            try:
                return cls.open(path)  # migrated now, when the home can be written
            except StoreError:
                if version < READABLE_SCHEMA_VERSION:
                    raise
            return cls.open_read_only_as_is(path)
        return cls(connection, path)

    @classmethod
    def open_read_only_as_is(cls, path: Path) -> Store:
        """A store of an older schema that every read still understands, read where it cannot be migrated."""
        connection = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro",
            uri=True,
            isolation_level=None,
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
        return cls(connection, path)

    @staticmethod
    def _prepare(connection: sqlite3.Connection) -> int:
        """Set up the connection and run pending migrations; returns the schema version found."""
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA journal_mode = WAL")
        # FULL: every answer's commit is fsynced, so it survives a power cut too, not only a killed app.
        # Cost on this machine's disk (bench/study_scale.py, 10k cards, quiet): 0.44 ms per answer vs 0.14.
        connection.execute("PRAGMA synchronous = FULL")
        # SQLite's automatic checkpoint copies the WAL into the database inside whichever commit crosses
        # 1000 pages: a 10-60 ms stall on one answer in ~150. Checkpoints run at idle moments instead
        # (`checkpoint()`: on close, when a session runs out of cards, every CHECKPOINT_EVERY answers).
        connection.execute("PRAGMA wal_autocheckpoint = 0")
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            found = connection.execute("SELECT version FROM schema_version").fetchone()
            version = found[0] if found else 0
            if found is None:
                connection.execute("INSERT INTO schema_version (version) VALUES (0)")
            if version < SCHEMA_VERSION:
                for migration in MIGRATIONS[version:]:
                    for statement in migration.split(";"):
                        if statement.strip():
                            connection.execute(statement)
                connection.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return version

    def _rows(self, sql: str, params: Sequence | Mapping[str, object] = ()) -> list[tuple]:
        """All rows of a read; a damaged file becomes a StoreError that names the way out."""
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as err:
            if _is_damage(err):
                raise _damaged(self.path, err) from None
            raise StoreError(f"cannot read the review store {self.path}: {err}") from None

    def _row(self, sql: str, params: Sequence = ()) -> tuple | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    def checkpoint(self) -> None:
        """Copy committed WAL pages into the database file without waiting for readers or writers."""
        try:
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.OperationalError:
            pass  # busy: the next checkpoint (or the last connection to close) does it

    def close(self) -> None:
        self.checkpoint()
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return self._db.execute("SELECT version FROM schema_version").fetchone()[0]

    # -- transactions ----------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """One write transaction (BEGIN IMMEDIATE), committed on exit, rolled back on error."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as err:
            raise StoreError(f"the review store {self.path} stayed busy too long: {err}") from None
        try:
            yield self
            self._db.execute("COMMIT")
        except BaseException as err:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            if isinstance(err, sqlite3.DatabaseError):
                hint = f"; it is damaged: {DOCTOR_HINT}" if _is_damage(err) else ""
                raise StoreError(f"the review store {self.path} could not save: {err}{hint}") from err
            raise

    # -- card states -----------------------------------------------------------------------------

    def card_rows(self, pack_ids: Iterable[str] | None = None) -> dict[tuple[str, str], CardRow]:
        """Every stored card state (of the given packs), in one query."""
        query = f"SELECT {_CARD_COLUMNS} FROM card_state"
        params: tuple = ()
        if pack_ids is not None:
            params = tuple(pack_ids)
            query += f" WHERE pack_id IN ({', '.join('?' * len(params))})"
        rows = self._rows(query, params)
        return {(values[0], values[1]): _card_row(values) for values in rows}

    def card_row(self, pack_id: str, card_id: str) -> CardRow | None:
        values = self._row(
            f"SELECT {_CARD_COLUMNS} FROM card_state WHERE pack_id = ? AND card_id = ?", (pack_id, card_id)
        )
        return _card_row(values) if values else None

    def due_entries(self, pack_id: str, day_start_ms: int, day_end_ms: int) -> list[tuple[str, int, int]]:
        """(card id, state, due) of a pack's learning and review cards due before `day_end_ms`, not
        suspended or buried: one scan of a covering index, no full rows."""
        return self._rows(
            "SELECT card_id, state, due_ms FROM card_state INDEXED BY card_state_by_due "
            "WHERE pack_id = ? AND due_ms < ? AND state != ? AND suspended = 0 "
            "AND coalesce(buried_until_ms, 0) <= ?",
            (pack_id, day_end_ms, NEW, day_start_ms),
        )

    def due_between(self, pack_id: str, start_ms: int, end_ms: int, now_ms: int) -> list[tuple[str, int]]:
        """(card id, due) of a pack's seen cards due in [start_ms, end_ms), not suspended nor buried at
        `now_ms` (custom study's "study ahead")."""
        return self._rows(
            "SELECT card_id, due_ms FROM card_state INDEXED BY card_state_by_due "
            "WHERE pack_id = ? AND due_ms >= ? AND due_ms < ? AND state != ? AND suspended = 0 "
            "AND coalesce(buried_until_ms, 0) <= ?",
            (pack_id, start_ms, end_ms, NEW, now_ms),
        )

    def forgotten_since(self, pack_id: str, since_ms: int) -> list[str]:
        """Card ids of a pack answered Again (scheduled answers, not cram) since `since_ms`, by the time
        of their latest such answer (custom study's "review forgotten cards")."""
        rows = self._rows(
            "SELECT card_id, max(reviewed_at_ms) AS last FROM review_log "
            "WHERE pack_id = ? AND rating = 1 AND kind = ? AND reviewed_at_ms >= ? GROUP BY card_id "
            "ORDER BY last, card_id",
            (pack_id, SCHEDULED, since_ms),
        )
        return [card_id for card_id, _ in rows]

    def unavailable_as_new(self, pack_id: str, day_start_ms: int) -> set[str]:
        """Card ids of a pack that today's new-card queue must skip: answered before, suspended or buried."""
        query = "FROM card_state WHERE pack_id = ? AND (state != ? OR suspended != 0 OR coalesce(buried_until_ms, 0) > ?)"
        params = (pack_id, NEW, day_start_ms)
        # One joined string is split in C, about twice as fast as a row per id; card ids never hold newlines
        # (they are slugs), and the count check falls back to rows if one ever does.
        joined, count = self._row(f"SELECT group_concat(card_id, char(10)), count(*) {query}", params) or (
            "",
            0,
        )
        ids = set(joined.split("\n")) if joined else set()
        if len(ids) != count:
            ids = {card_id for (card_id,) in self._rows(f"SELECT card_id {query}", params)}
        return ids

    def scheduled_rows(self, pack_id: str) -> Iterator[tuple[str, int, int]]:
        """(card id, state, when it is next available) of a pack's unsuspended seen cards, soonest first."""
        yield from self._rows(
            "SELECT card_id, state, max(due_ms, coalesce(buried_until_ms, 0)) AS available FROM card_state "
            "WHERE pack_id = ? AND state != ? AND suspended = 0 ORDER BY available",
            (pack_id, NEW),
        )

    def buried_new_until(self, pack_id: str, now_ms: int) -> int | None:
        """When the first buried, never-answered card of a pack comes back (None: none is buried)."""
        found = self._row(
            "SELECT min(buried_until_ms) FROM card_state WHERE pack_id = ? AND state = ? AND suspended = 0 "
            "AND buried_until_ms > ?",
            (pack_id, NEW, now_ms),
        )
        return found[0] if found else None

    def put_card_row(self, row: CardRow) -> None:
        self._db.execute(
            f"INSERT OR REPLACE INTO card_state ({_CARD_COLUMNS}) VALUES ({', '.join('?' * 14)})",
            _card_values(row),
        )

    def move_card_history(self, pack_id: str, old: str, new: str) -> int:
        """Give card `new` the state and review log of card `old`, if `new` has none of its own (inside a
        `transaction()`); the number of reviews moved (0: nothing to move, or `new` already has history)."""
        taken = self._row(
            "SELECT (SELECT count(*) FROM card_state WHERE pack_id = ?1 AND card_id = ?2) + "
            "(SELECT count(*) FROM review_log WHERE pack_id = ?1 AND card_id = ?2)",
            (pack_id, new),
        )
        if taken and taken[0]:
            return 0
        where, params = "WHERE pack_id = ? AND card_id = ?", (new, pack_id, old)
        self._db.execute(f"UPDATE card_state SET card_id = ? {where}", params)
        moved = self._db.execute(f"UPDATE review_log SET card_id = ? {where}", params).rowcount
        return moved

    def delete_card_row(self, pack_id: str, card_id: str) -> None:
        self._db.execute("DELETE FROM card_state WHERE pack_id = ? AND card_id = ?", (pack_id, card_id))

    # -- review log ------------------------------------------------------------------------------

    def add_review(self, review: ReviewRow) -> int:
        cursor = self._db.execute(
            f"INSERT INTO review_log ({_REVIEW_COLUMNS}) VALUES ({', '.join('?' * 12)})",
            _review_values(review),
        )
        if cursor.lastrowid is None:  # an INSERT always sets it
            raise StoreError(f"the review of {review.card_id!r} was not stored in {self.path}")
        return cursor.lastrowid

    def add_reviews(self, reviews: Iterable[ReviewRow]) -> None:
        self._db.executemany(
            f"INSERT INTO review_log ({_REVIEW_COLUMNS}) VALUES ({', '.join('?' * 12)})",
            (_review_values(review) for review in reviews),
        )

    def add_imported_reviews(self, reviews: Iterable[tuple[ReviewRow, int]]) -> int:
        """Add `(review, source id)` pairs (the source id: Anki's revlog id); one whose source id the pack
        already has is left out by the database. Returns how many were added."""
        cursor = self._db.executemany(
            f"INSERT OR IGNORE INTO review_log ({_REVIEW_COLUMNS}, source_id) VALUES ({', '.join('?' * 13)})",
            ((*_review_values(review), source_id) for review, source_id in reviews),
        )
        return max(cursor.rowcount, 0)

    def restore_rows(self, cards: Iterable[Sequence], reviews: Iterable[Sequence]) -> None:
        """Put raw rows back (`cardlab doctor`): card states in column order, reviews with their id last."""
        self._db.executemany(
            f"INSERT OR REPLACE INTO card_state ({_CARD_COLUMNS}) VALUES ({', '.join('?' * 14)})", cards
        )
        self._db.executemany(
            f"INSERT OR IGNORE INTO review_log ({_REVIEW_COLUMNS}, id) VALUES ({', '.join('?' * 13)})",
            reviews,
        )

    def delete_review(self, review_id: int) -> None:
        self._db.execute("DELETE FROM review_log WHERE id = ?", (review_id,))

    def review(self, review_id: int) -> ReviewRow | None:
        values = self._row(f"SELECT {_REVIEW_COLUMNS}, id FROM review_log WHERE id = ?", (review_id,))
        return ReviewRow(*values) if values else None

    def reviews(self, pack_id: str | None = None, card_id: str | None = None) -> list[ReviewRow]:
        """Log rows oldest first, optionally of one pack or one card."""
        clauses, params = [], []
        if pack_id is not None:
            clauses.append("pack_id = ?")
            params.append(pack_id)
        if card_id is not None:
            clauses.append("card_id = ?")
            params.append(card_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._rows(
            f"SELECT {_REVIEW_COLUMNS}, id FROM review_log {where} ORDER BY reviewed_at_ms, id", params
        )
        return [ReviewRow(*values) for values in rows]

    def review_count(self) -> int:
        return self._rows("SELECT count(*) FROM review_log")[0][0]

    def answered_since(self, since_ms: int) -> dict[str, tuple[int, int]]:
        """Per pack: (new cards introduced, review-state cards answered) since `since_ms`."""
        rows = self._rows(
            "SELECT pack_id, sum(state_before = 0), sum(state_before = 2) FROM review_log "
            "INDEXED BY review_log_by_time WHERE reviewed_at_ms >= ? AND kind = ? GROUP BY pack_id",
            (since_ms, SCHEDULED),
        )
        return {pack_id: (new, review) for pack_id, new, review in rows}

    def query(self, sql: str, params: Sequence | Mapping[str, object] = ()) -> list[tuple]:
        """A read-only query for reports (stats, optimizer) that need aggregates the methods lack."""
        return self._rows(sql, params)

    def execute_many(self, sql: str, rows: Iterable[Sequence | Mapping[str, object]]) -> int:
        """One write statement per row (inside `transaction()`); returns how many rows it changed."""
        return self._db.executemany(sql, rows).rowcount

    def flag_counts(self, now_ms: int) -> dict[str, tuple[int, int]]:
        """Per pack: (suspended, buried now) stored card states."""
        rows = self._rows(
            "SELECT pack_id, sum(suspended != 0), sum(coalesce(buried_until_ms, 0) > ?) FROM card_state "
            "GROUP BY pack_id",
            (now_ms,),
        )
        return {pack_id: (suspended, buried) for pack_id, suspended, buried in rows}

    def fill_temp_table(self, name: str, columns: str, rows: Iterable[Sequence]) -> None:
        """(Re)build the connection-private TEMP table `name` (e.g. the card browser's index of the loaded
        cards, so queries can join it with card_state in SQL); the store's file is never touched."""
        self._db.execute(f"DROP TABLE IF EXISTS temp.{name}")
        self._db.execute(f"CREATE TEMP TABLE {name} ({columns})")
        width = len(self._db.execute(f"PRAGMA temp.table_info({name})").fetchall())
        insert = f"INSERT INTO temp.{name} VALUES ({', '.join('?' * width)})"
        if self._db.in_transaction:
            self._db.executemany(insert, rows)
        else:  # one transaction: a commit per row would cost seconds at 100k cards
            self._db.execute("BEGIN")
            try:
                self._db.executemany(insert, rows)
            finally:
                self._db.execute("COMMIT")
        if not self._db.execute("SELECT 1 FROM pragma_function_list WHERE name = 'pow'").fetchone():
            self.define_function("pow", 2, pow)  # an SQLite built without its math functions

    def define_function(
        self, name: str, arity: int, function: Callable[..., int | float | str | None]
    ) -> None:
        """A deterministic SQL function on this connection (e.g. `regexp` for the card browser's queries)."""
        self._db.create_function(name, arity, function, deterministic=True)
