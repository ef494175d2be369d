"""The SQLite review store: schema and migrations, WAL, transactions, damaged and newer files."""

from __future__ import annotations

import sqlite3

import pytest

from cards.store import SCHEMA_VERSION, CardRow, ReviewRow, Store, StoreError


def a_review(card_id: str = "q0", at_ms: int = 1_000, state_before: int = 0) -> ReviewRow:
    return ReviewRow("demo", card_id, "hash", 3, state_before, 1, at_ms, 2500, at_ms + 600_000, 2.3, 5.1)


def test_a_new_store_gets_the_current_schema_in_wal_mode_with_a_busy_timeout(tmp_path):
    path = tmp_path / "data" / "reviews.sqlite3"
    with Store.open(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.query("PRAGMA journal_mode") == [("wal",)]
        assert store.query("PRAGMA busy_timeout")[0][0] >= 5000
        names = {name for (name,) in store.query("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"review_log_by_time", "review_log_by_card"} <= names


def test_rows_survive_reopening(tmp_path):
    path = tmp_path / "reviews.sqlite3"
    row = CardRow(
        "demo",
        "q0",
        "hash",
        state=2,
        step=None,
        stability=3.5,
        difficulty=6.0,
        due_ms=99,
        last_review_ms=50,
        reps=4,
        lapses=1,
        buried_until_ms=None,
        suspended=True,
        tags=("leech",),
    )
    with Store.open(path) as store, store.transaction():
        store.put_card_row(row)
        review_id = store.add_review(a_review())
    with Store.open(path) as store:
        assert store.card_row("demo", "q0") == row
        assert store.card_rows(["demo"]) == {("demo", "q0"): row}
        assert store.card_rows(["other"]) == {}
        (stored,) = store.reviews()
        assert (stored.id, stored.card_id, stored.rating, stored.duration_ms) == (review_id, "q0", 3, 2500)
        assert store.review(review_id) == stored


def test_a_failed_transaction_leaves_nothing_behind(tmp_path):
    with Store.open(tmp_path / "reviews.sqlite3") as store:
        with pytest.raises(RuntimeError), store.transaction():
            store.put_card_row(CardRow("demo", "q0", "hash"))
            store.add_review(a_review())
            raise RuntimeError("crash between the two writes")
        assert store.card_row("demo", "q0") is None
        assert store.review_count() == 0


def test_answered_since_counts_new_and_review_answers_per_pack(tmp_path):
    with Store.open(tmp_path / "reviews.sqlite3") as store, store.transaction():
        store.add_reviews(
            [a_review("a", 100, 0), a_review("b", 200, 0), a_review("c", 300, 2), a_review("d", 50, 0)]
        )
        assert store.answered_since(100) == {"demo": (2, 1)}


def test_an_old_schema_is_migrated_in_place(tmp_path):
    path = tmp_path / "reviews.sqlite3"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    old.execute("INSERT INTO schema_version VALUES (0)")
    old.execute("CREATE TABLE notes (text TEXT)")  # anything the user had stays
    old.execute("INSERT INTO notes VALUES ('keep me')")
    old.commit()
    old.close()
    with Store.open(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.query("SELECT text FROM notes") == [("keep me",)]
        assert store.card_rows() == {}


def test_a_corrupt_file_is_left_untouched_with_a_clear_message(tmp_path):
    path = tmp_path / "reviews.sqlite3"
    garbage = b"this is not a database " * 200
    path.write_bytes(garbage)
    with pytest.raises(StoreError) as caught:
        Store.open(path)
    assert "damaged" in str(caught.value) and "cardlab doctor" in str(caught.value)
    assert path.read_bytes() == garbage and not list(tmp_path.glob("reviews.sqlite3.*"))


def test_a_store_damaged_inside_names_the_doctor(tmp_path):
    path = tmp_path / "reviews.sqlite3"
    Store.open(path).close()
    sqlite3.connect(path).execute("PRAGMA journal_mode = DELETE").close()  # fold the WAL into the file
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # wreck the schema page after the valid header
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="cardlab doctor"):
        Store.open(path)
    assert path.read_bytes() == bytes(data)


def test_a_newer_schema_is_moved_aside_and_never_overwritten(tmp_path):
    path = tmp_path / "reviews.sqlite3"
    with Store.open(path) as store, store.transaction():
        store.add_review(a_review())
    newer = sqlite3.connect(path)
    newer.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    newer.commit()
    newer.close()
    with pytest.raises(StoreError) as caught:
        Store.open(path)
    message = str(caught.value)
    assert "newer cardlab" in message
    (backup,) = tmp_path.glob(f"reviews.sqlite3.schema-v{SCHEMA_VERSION + 1}-*")
    assert str(backup) in message
    kept = sqlite3.connect(backup)
    assert kept.execute("SELECT count(*) FROM review_log").fetchone() == (1,)
    assert kept.execute("SELECT version FROM schema_version").fetchone() == (SCHEMA_VERSION + 1,)
    kept.close()


def test_a_path_that_cannot_be_a_database_is_refused_without_moving_anything(tmp_path):
    folder = tmp_path / "reviews.sqlite3"
    folder.mkdir()
    with pytest.raises(StoreError, match="cannot"):
        Store.open(folder)
    assert folder.is_dir()
    assert not list(tmp_path.glob("*.corrupt-*"))


def test_two_connections_see_each_others_commits(tmp_path):
    path = tmp_path / "reviews.sqlite3"
    with Store.open(path) as first, Store.open(path) as second:
        with first.transaction():
            first.add_review(a_review())
        with second.transaction():
            second.add_review(a_review("q1"))
        assert first.review_count() == second.review_count() == 2


def test_a_database_error_inside_a_transaction_is_a_store_error_and_rolls_back(tmp_path):
    with Store.open(tmp_path / "reviews.sqlite3") as store:
        bad = ReviewRow("demo", "q0", "hash", 9, 0, 1, 1, 1, 1, None, None)  # rating outside 1..4
        with pytest.raises(StoreError, match="could not save"), store.transaction():
            store.put_card_row(CardRow("demo", "q0", "hash"))
            store.add_review(bad)
        assert store.card_row("demo", "q0") is None
        with store.transaction():  # the store is still usable
            store.add_review(a_review())
        assert store.review_count() == 1
