"""Custom study (ahead, forgotten, extra new, cram), sibling burying and stable interval labels."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from cards.config import Config
from cards.optimize import review_histories
from cards.pack import load_pack
from cards.schedule import StudySession
from cards.stats import collect_stats
from cards.store import CRAM, SCHEDULED, SCHEMA_VERSION, Store
from tests.cards._study_helpers import PACK_HEADER, Clock, make_pack


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "reviews.sqlite3") as opened:
        yield opened


def session_for(store, packs, clock, **settings) -> StudySession:
    return StudySession(store, packs, Config(timezone="UTC", **settings), clock=clock)


def study_all(session: StudySession, rating: int = 3) -> list[str]:
    shown = []
    while (card := session.next_card()) is not None:
        shown.append(card.id)
        session.answer(card, rating, 1000)
    return shown


def graduate(store, pack, clock) -> None:
    """Every card of `pack` in the review state (two Good answers a day apart... then Easy)."""
    session = session_for(store, [pack], clock, new_per_day=100)
    for card in pack.cards:
        session.answer(card, 4, 1000)


def state_snapshot(store) -> list[tuple]:
    return store.query("SELECT * FROM card_state ORDER BY pack_id, card_id")


def test_cram_logs_rows_as_cram_and_leaves_due_dates_and_fsrs_state_untouched(store, tmp_path):
    pack = make_pack(tmp_path, cards=3)
    clock = Clock()
    graduate(store, pack, clock)
    before = state_snapshot(store)
    session = session_for(store, [pack], clock)
    assert session.next_card() is None  # nothing due today: the pack is done
    assert session.cram(pack.cards) == 3
    assert session.custom_mode == "cram"
    first = session.next_card()
    assert session.preview_labels(first) == {1: "again", 2: "done", 3: "done", 4: "done"}
    session.answer(first, 1, 500)  # Again: back at the end of the cram queue
    shown = [first.id, *study_all(session, rating=3)]
    assert shown == ["q0", "q1", "q2", "q0"]
    assert session.custom_mode is None and session.next_card() is None
    assert state_snapshot(store) == before
    kinds = store.query("SELECT kind, count(*) FROM review_log GROUP BY kind ORDER BY kind")
    assert kinds == [(SCHEDULED, 3), (CRAM, 4)]
    # Stats, the optimizer and today's limits leave cram out.
    stats = collect_stats(store, [pack], Config(timezone="UTC"), clock=clock)
    assert stats.reviews_today == 3
    assert sum(len(history) for history in review_histories(store)) == 3
    assert store.answered_since(0) == {"demo": (3, 0)}


def test_undoing_a_cram_answer_removes_only_its_log_row_and_requeues_the_card(store, tmp_path):
    pack = make_pack(tmp_path, cards=2)
    session = session_for(store, [pack], Clock())
    session.cram(pack.cards)
    card = session.next_card()
    session.answer(card, 3, 100)
    assert session.next_card().id == "q1"
    assert session.undo() == card
    assert session.next_card() == card
    assert store.review_count() == 0 and state_snapshot(store) == []


def test_the_summary_keeps_cram_answers_apart_from_scheduled_ones(store, tmp_path):
    pack = make_pack(tmp_path, cards=2)
    session = session_for(store, [pack], Clock())
    assert study_all(session, rating=4) == ["q0", "q1"]  # two scheduled answers, 1 s each
    session.cram(pack.cards)
    session.answer(session.next_card(), 1, 500)  # cram: Again, then Good on each
    assert study_all(session) == ["q1", "q0"]
    summary = session.summary()
    assert (summary.reviewed, summary.by_rating, summary.seconds) == (2, {1: 0, 2: 0, 3: 0, 4: 2}, 2.0)
    assert (summary.crammed, summary.cram_seconds) == (3, 2.5)
    session.undo()  # a cram answer taken back
    summary = session.summary()
    assert (summary.reviewed, summary.crammed, summary.cram_seconds) == (2, 2, 1.5)


def test_study_ahead_queues_reviews_due_in_the_next_days_and_answers_them_as_usual(store, tmp_path):
    pack = make_pack(tmp_path, cards=2)
    clock = Clock()
    graduate(store, pack, clock)
    session = session_for(store, [pack], clock)
    assert session.next_card() is None
    due_before = {row.card_id: row.due_ms for row in store.card_rows().values()}
    assert session.study_ahead(1) == 0  # Easy on a new card gives more than a day
    assert session.study_ahead(60) == 2
    assert session.custom_mode == "ahead"
    assert sorted(study_all(session)) == ["q0", "q1"]  # earliest due first
    due_after = {row.card_id: row.due_ms for row in store.card_rows().values()}
    assert all(due_after[card_id] != due_before[card_id] for card_id in due_before)
    assert store.query("SELECT DISTINCT kind FROM review_log") == [(SCHEDULED,)]


def test_review_forgotten_queues_cards_answered_again_in_the_last_days(store, tmp_path):
    pack = make_pack(tmp_path, cards=3)
    clock = Clock()
    session = session_for(store, [pack], clock)
    session.answer(pack.cards[0], 1, 100)
    session.answer(pack.cards[1], 3, 100)
    session.answer(pack.cards[2], 1, 100)
    clock.advance(days=3)
    later = session_for(store, [pack], clock)
    assert later.review_forgotten(1) == 0
    assert later.review_forgotten(4) == 2
    assert [later.next_card().id] == ["q0"]
    with pytest.raises(ValueError, match="from 1 to 365"):
        later.review_forgotten(0)


def test_extra_new_cards_raise_todays_limit_for_the_pack(store, tmp_path):
    pack = make_pack(tmp_path, cards=5)
    session = session_for(store, [pack], Clock(), new_per_day=2, learning_steps_min=())
    assert len(study_all(session)) == 2
    assert session.extra_new("demo", 2) == 2
    assert study_all(session) == ["q2", "q3"]
    with pytest.raises(ValueError, match=">= 1"):
        session.extra_new("demo", 0)


CLOZE_PACK = (
    PACK_HEADER.format(pack_id="geo")
    + """
[[cards]]
id = "capitals"
type = "cloze"
front = "{{c1::Madrid}} is in Spain; {{c2::Rome}} is in Italy; {{c3::Paris}} is in France."

[[cards]]
id = "plain"
front = "Plain?"
back = "Yes."
"""
)


@pytest.fixture
def cloze_pack(tmp_path):
    path = tmp_path / "geo.toml"
    path.write_text(CLOZE_PACK, encoding="utf-8")
    return load_pack(path)


def test_answering_a_cloze_card_buries_its_siblings_until_tomorrow(store, cloze_pack):
    clock = Clock()
    session = session_for(store, [cloze_pack], clock, learning_steps_min=())
    assert session.counts().new == 4
    first = session.next_card()
    assert first.id == "capitals#c1"
    session.answer(first, 3, 100)
    assert session.counts().new == 1
    assert study_all(session) == ["plain"]
    buried = {row.card_id: row.buried_until_ms for row in store.card_rows().values() if row.buried_until_ms}
    assert set(buried) == {"capitals#c2", "capitals#c3"}
    clock.advance(days=1)
    assert session_for(store, [cloze_pack], clock).next_card().id == "capitals#c2"


def test_undo_unburies_the_siblings(store, cloze_pack):
    session = session_for(store, [cloze_pack], Clock())
    card = session.next_card()
    session.answer(card, 3, 100)
    session.undo()
    assert session.counts().new == 4
    assert store.card_rows() == {}


def test_bury_siblings_off_shows_them_the_same_day(store, cloze_pack):
    session = session_for(store, [cloze_pack], Clock(), learning_steps_min=(), bury_siblings=False)
    assert study_all(session) == ["capitals#c1", "capitals#c2", "capitals#c3", "plain"]


@pytest.mark.parametrize("microseconds", [0, 300, 499, 500, 700, 999_999])
def test_identical_new_cards_get_identical_interval_labels(store, tmp_path, microseconds):
    pack = make_pack(tmp_path, cards=2)
    start = datetime(2026, 5, 4, 12, 0, tzinfo=UTC) + timedelta(microseconds=microseconds)
    clock = Clock(start)
    session = session_for(store, [pack], clock)
    steps = [{rating: session.preview_labels(card)[rating] for rating in (1, 2, 3)} for card in pack.cards]
    assert steps == [{1: "1m", 2: "6m", 3: "10m"}] * 2  # (Easy's days are fuzzed per card, on purpose)
    first = session.preview_labels(pack.cards[0])
    clock.advance(microseconds=337)
    assert session.preview_labels(pack.cards[0]) == first


def version_1_store(path) -> None:
    """A store as cardlab wrote it before the review kind: schema 1, one review."""
    from cards.store import MIGRATIONS

    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    db.execute("INSERT INTO schema_version VALUES (1)")
    db.execute(
        "INSERT INTO review_log (pack_id, card_id, content_hash, rating, state_before, state_after, "
        "reviewed_at_ms, duration_ms, due_after_ms, stability_after, difficulty_after) "
        "VALUES ('demo', 'q0', 'h', 3, 0, 1, 1000, 500, 61000, 2.3, 5.0)"
    )
    db.commit()
    db.close()


def test_a_store_from_before_the_review_kind_is_migrated_with_its_reviews_scheduled(tmp_path):
    path = tmp_path / "old.sqlite3"
    version_1_store(path)
    with Store.open(path) as store:
        assert store.schema_version == SCHEMA_VERSION  # migrated all the way
        assert store.query("SELECT card_id, kind FROM review_log") == [("q0", SCHEDULED)]
        assert store.answered_since(0) == {"demo": (1, 0)}
        indexes = dict(store.query("SELECT name, sql FROM sqlite_master WHERE type = 'index'"))
        assert "kind" in indexes["review_log_by_time"] and "kind" in indexes["review_log_by_card"]


def test_the_doctor_reads_a_damaged_store_from_before_the_review_kind(tmp_path):
    from cards.doctor import recover

    path = tmp_path / "old.sqlite3"
    version_1_store(path)
    db = sqlite3.connect(path)
    db.execute("DROP TABLE card_state")  # damage that `cardlab doctor` recovers from
    db.commit()
    db.close()
    report = recover(path)
    assert not report.healthy and report.reviews == 1
    with Store.open(path) as store:
        assert store.query("SELECT card_id, kind FROM review_log") == [("q0", SCHEDULED)]
