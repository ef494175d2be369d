"""Today's queue over fsrs: grades, undo, bury, suspend, leeches, limits, day rollover and DST."""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cards.config import Config
from cards.fsrs_step import Rating
from cards.schedule import Counts, StudySession
from cards.store import LEARNING, NEW, RELEARNING, REVIEW, Store
from cards.study_day import day_start, format_interval, study_day
from tests.cards._study_helpers import Clock, answer_in_process, make_pack, write_pack

NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "reviews.sqlite3") as opened:
        yield opened


def session_for(store, packs, clock, **settings_) -> StudySession:
    return StudySession(store, packs, Config(timezone="UTC", **settings_), clock=clock)


def log_rows(store) -> list[tuple]:
    return store.query(
        "SELECT card_id, rating, state_before, state_after, reviewed_at_ms, duration_ms FROM review_log ORDER BY id"
    )


def ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


# -- grades --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rating", "state", "step", "wait"),
    [
        (Rating.Again, LEARNING, 0, timedelta(minutes=1)),
        (Rating.Hard, LEARNING, 0, timedelta(minutes=5.5)),  # halfway between the 1 and 10 minute steps
        (Rating.Good, LEARNING, 1, timedelta(minutes=10)),
        (Rating.Easy, REVIEW, None, None),
    ],
)
def test_each_grade_of_a_new_card_is_stored_with_its_log_row(tmp_path, store, rating, state, step, wait):
    clock = Clock()
    session = session_for(store, [make_pack(tmp_path)], clock)
    card = session.next_card()
    assert card.id == "q0"  # new cards come in file order

    session.answer(card, rating, duration_ms=4321)

    row = store.card_row("demo", "q0")
    assert (row.state, row.step, row.reps, row.content_hash) == (state, step, 1, card.content_hash)
    assert row.last_review_ms == ms(clock.now)
    if wait is not None:
        assert row.due_ms == ms(clock.now + wait)
    else:
        assert row.due_ms >= ms(clock.now + timedelta(days=3))
    assert log_rows(store) == [("q0", int(rating), NEW, state, ms(clock.now), 4321)]


def test_an_answer_is_committed_before_answer_returns(tmp_path, store):
    session = session_for(store, [make_pack(tmp_path)], Clock())
    session.answer(session.next_card(), Rating.Good, duration_ms=10)
    other = sqlite3.connect(store.path)  # a second connection sees only committed data
    assert other.execute("SELECT count(*) FROM review_log").fetchone() == (1,)
    assert other.execute("SELECT reps FROM card_state WHERE card_id = 'q0'").fetchone() == (1,)
    other.close()


def test_review_card_again_lapses_into_relearning(tmp_path, store):
    clock = Clock()
    session = session_for(store, [make_pack(tmp_path, cards=1)], clock)
    card = session.next_card()
    session.answer(card, Rating.Easy, 1000)
    clock.now = session.next_due_at()
    assert session.next_card() == card
    session.answer(card, Rating.Again, 1000)
    row = store.card_row("demo", card.id)
    assert (row.state, row.lapses, row.due_ms) == (RELEARNING, 1, ms(clock.now + timedelta(minutes=10)))
    assert log_rows(store)[-1][2:4] == (REVIEW, RELEARNING)


def test_preview_intervals_match_what_each_answer_gives(tmp_path, store):
    clock = Clock()
    pack = make_pack(tmp_path, cards=1)
    card = pack.cards[0]
    session = session_for(store, [pack], clock)
    session.answer(card, Rating.Easy, 1000)
    clock.now = session.next_due_at() + timedelta(days=2)  # a review state, overdue: intervals in days
    preview = session.preview_intervals(card)
    assert preview[1] < preview[2] < preview[3] < preview[4]
    for rating in Rating:
        session.answer(card, rating, 1000)
        assert store.card_row("demo", card.id).due_ms == ms(clock.now + preview[rating])
        session.undo()


def test_bad_rating_or_duration_is_refused_and_nothing_is_written(tmp_path, store):
    session = session_for(store, [make_pack(tmp_path)], Clock())
    card = session.next_card()
    with pytest.raises(ValueError, match="rating must be 1"):
        session.answer(card, 5, 1000)
    with pytest.raises(ValueError, match="duration_ms"):
        session.answer(card, 3, -1)
    assert log_rows(store) == []


# -- undo ----------------------------------------------------------------------------------------


def test_undo_restores_state_and_log_and_counts(tmp_path, store):
    clock = Clock()
    session = session_for(store, [make_pack(tmp_path)], clock)
    first = session.next_card()
    session.answer(first, Rating.Good, 1000)
    state_after_first = store.card_row("demo", first.id)
    clock.advance(minutes=11)
    assert session.next_card() == first  # learning card due again
    session.answer(first, Rating.Good, 2000)
    assert len(log_rows(store)) == 2

    assert session.undo() == first
    assert store.card_row("demo", first.id) == state_after_first
    assert [row[1] for row in log_rows(store)] == [Rating.Good]
    assert session.next_card() == first

    assert session.undo() == first
    assert store.card_row("demo", first.id) is None
    assert log_rows(store) == []
    assert session.counts() == Counts(new=5, learning=0, review=0)
    assert session.summary().reviewed == 0
    assert session.undo() is None


def test_undo_takes_back_a_bury_too(tmp_path, store):
    session = session_for(store, [make_pack(tmp_path)], Clock())
    card = session.next_card()
    session.bury(card)
    assert session.next_card() != card
    assert session.undo() == card
    assert session.next_card() == card


# -- bury, suspend, leeches ----------------------------------------------------------------------


def test_bury_hides_a_card_until_the_next_rollover(tmp_path, store):
    clock = Clock(datetime(2026, 5, 4, 14, 0, tzinfo=NEW_YORK))
    pack = make_pack(tmp_path, cards=2)
    session = StudySession(store, [pack], Config(timezone="America/New_York"), clock=clock)
    session.bury(pack.cards[0])
    assert session.next_card() == pack.cards[1]
    assert session.counts().new == 1

    clock.now = datetime(2026, 5, 5, 3, 59, tzinfo=NEW_YORK)
    assert session.counts().new == 1
    clock.now = datetime(2026, 5, 5, 4, 0, tzinfo=NEW_YORK)
    assert session.counts().new == 2
    assert session.next_card() == pack.cards[0]


def test_suspend_hides_a_card_in_this_and_later_sessions_until_unsuspended(tmp_path, store):
    clock = Clock()
    pack = make_pack(tmp_path, cards=2)
    session = session_for(store, [pack], clock)
    session.suspend(pack.cards[0])
    assert store.card_row("demo", "q0").suspended
    clock.advance(days=3)
    later = session_for(store, [pack], clock)
    assert later.next_card() == pack.cards[1]
    assert later.counts().new == 1
    later.unsuspend(pack.cards[0])
    assert later.next_card() == pack.cards[0]


def test_a_card_becomes_a_suspended_leech_after_eight_lapses(tmp_path, store):
    clock = Clock()
    pack = make_pack(tmp_path, cards=1)
    card = pack.cards[0]
    session = session_for(store, [pack], clock, leech_lapses=8)
    session.answer(card, Rating.Easy, 1000)
    for lapse in range(1, 9):
        clock.now = session.next_due_at()
        assert session.next_card() == card, f"lapse {lapse}"
        session.answer(card, Rating.Again, 1000)  # review -> relearning: a lapse
        row = store.card_row("demo", card.id)
        assert row.lapses == lapse
        assert row.suspended == (lapse == 8)
        if lapse < 8:
            clock.advance(minutes=10)
            session.answer(card, Rating.Good, 1000)  # relearned: back to review
    assert store.card_row("demo", card.id).tags == ("leech",)
    assert session.next_card() is None
    assert session.next_due_at() is None


# -- edited cards --------------------------------------------------------------------------------


def test_an_edited_card_keeps_its_history_and_says_so(tmp_path, store):
    clock = Clock()
    pack = make_pack(tmp_path, cards=[("a", "What is 2+2?", "4")])
    session = session_for(store, [pack], clock)
    session.answer(pack.cards[0], Rating.Good, 1000)
    assert not session.is_edited(pack.cards[0])

    edited = make_pack(tmp_path, cards=[("a", "What is 2+2?", "Four (4).")])
    later = session_for(store, [edited], clock)
    card = edited.cards[0]
    assert later.is_edited(card)
    assert later.card_state(card).reps == 1  # history kept
    clock.advance(minutes=10)
    later.answer(card, Rating.Good, 1000)
    assert not later.is_edited(card)
    assert len(log_rows(store)) == 2


def test_a_never_answered_card_is_not_edited(tmp_path, store):
    pack = make_pack(tmp_path)
    session = session_for(store, [pack], Clock())
    session.bury(pack.cards[0])
    assert not session.is_edited(pack.cards[0]._replace(content_hash="changed"))


# -- limits --------------------------------------------------------------------------------------


def test_new_cards_per_day_limit_and_next_day(tmp_path, store):
    clock = Clock()
    pack = make_pack(tmp_path, cards=5)
    session = session_for(store, [pack], clock, new_per_day=2)
    assert session.counts() == Counts(new=2, learning=0, review=0)
    for expected in ("q0", "q1"):
        card = session.next_card()
        assert card.id == expected
        session.answer(card, Rating.Easy, 1000)
    assert session.counts().new == 0
    assert session.next_card() is None
    tomorrow = datetime(2026, 5, 5, 0, 0, tzinfo=UTC)  # rollover at 04:00 UTC
    assert session.next_due_at() == tomorrow.replace(hour=4)

    fresh = session_for(store, [pack], clock, new_per_day=2)  # a restart counts today's answers
    assert fresh.counts().new == 0
    clock.now = tomorrow.replace(hour=4)
    assert session.counts().new == 2
    assert session.next_card().id == "q2"


def test_review_limit_caps_todays_reviews(tmp_path, store):
    clock = Clock()
    pack = make_pack(tmp_path, cards=5)
    first_day = session_for(store, [pack], clock, reviews_per_day=2)
    for card in pack.cards[:4]:
        first_day.answer(card, Rating.Easy, 1000)
    clock.advance(days=60)
    session = session_for(store, [pack], clock, reviews_per_day=2)
    assert session.counts() == Counts(new=1, learning=0, review=2)
    for _ in range(2):
        session.answer(session.next_card(), Rating.Good, 1000)
    assert session.counts().review == 0
    assert session.next_card().id == "q4"  # the one new card left


def test_learning_cards_come_first_then_reviews_then_new(tmp_path, store):
    clock = Clock()
    pack = make_pack(tmp_path, cards=4)
    session = session_for(store, [pack], clock)
    session.answer(pack.cards[0], Rating.Easy, 1000)  # review later
    clock.advance(days=30)
    session = session_for(store, [pack], clock)
    session.answer(session.next_card(), Rating.Again, 1000)  # q0 relearning, due in 10 minutes
    assert session.next_card() == pack.cards[1]  # new, while q0 waits
    session.answer(pack.cards[1], Rating.Good, 1000)  # learning, due in 10 minutes
    clock.advance(minutes=11)
    assert session.next_card() == pack.cards[0]  # learning (earliest due) before new cards


def test_learning_card_is_shown_early_when_nothing_else_is_left(tmp_path, store):
    clock = Clock()
    pack = make_pack(tmp_path, cards=1)
    session = session_for(store, [pack], clock)
    session.answer(pack.cards[0], Rating.Good, 1000)  # due in 10 minutes: within learn-ahead
    assert session.next_card() == pack.cards[0]
    session.answer(pack.cards[0], Rating.Good, 1000)
    assert session.next_card() is None


def test_counts_per_pack(tmp_path, store):
    clock = Clock()
    first, second = make_pack(tmp_path, "first", 3), make_pack(tmp_path, "second", 2)
    session = session_for(store, [first, second], clock)
    session.answer(first.cards[0], Rating.Again, 1000)
    assert session.counts("first") == Counts(new=2, learning=1, review=0)
    assert session.counts("second") == Counts(new=2, learning=0, review=0)
    assert session.counts() == Counts(new=4, learning=1, review=0)


def test_summary_counts_answers_by_rating_and_time(tmp_path, store):
    clock = Clock()
    session = session_for(store, [make_pack(tmp_path, cards=3)], clock)
    for rating in (Rating.Good, Rating.Again, Rating.Easy):
        session.answer(session.next_card(), rating, 1500)
    summary = session.summary()
    assert summary.reviewed == 3
    assert summary.by_rating == {1: 1, 2: 0, 3: 1, 4: 1}
    assert summary.seconds == 4.5
    assert summary.next_due == clock.now  # learning cards are shown ahead of time


# -- days and DST --------------------------------------------------------------------------------


def test_study_day_turns_at_four_local_time():
    assert study_day(datetime(2026, 5, 5, 3, 59, tzinfo=NEW_YORK), 4, NEW_YORK) == date(2026, 5, 4)
    assert study_day(datetime(2026, 5, 5, 4, 0, tzinfo=NEW_YORK), 4, NEW_YORK) == date(2026, 5, 5)
    assert day_start(date(2026, 5, 5), 4, NEW_YORK) == datetime(2026, 5, 5, 8, 0, tzinfo=UTC)  # EDT


def test_day_boundaries_across_both_dst_changes():
    # 8 March 2026: clocks go from 2:00 EST to 3:00 EDT; 1 November 2026: back from 2:00 EDT to 1:00 EST.
    assert day_start(date(2026, 3, 7), 4, NEW_YORK) == datetime(2026, 3, 7, 9, 0, tzinfo=UTC)
    assert day_start(date(2026, 3, 8), 4, NEW_YORK) == datetime(2026, 3, 8, 8, 0, tzinfo=UTC)
    assert day_start(date(2026, 11, 1), 4, NEW_YORK) == datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    # the 23-hour and 25-hour study days
    assert day_start(date(2026, 3, 8), 4, NEW_YORK) - day_start(date(2026, 3, 7), 4, NEW_YORK) == timedelta(
        hours=23
    )
    assert day_start(date(2026, 11, 1), 4, NEW_YORK) - day_start(
        date(2026, 10, 31), 4, NEW_YORK
    ) == timedelta(hours=25)
    # a rollover hour that does not exist on the spring-forward day still gives one boundary
    assert day_start(date(2026, 3, 8), 2, NEW_YORK) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)),
    hour=st.integers(0, 23),
    zone=st.sampled_from(["America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]),
)
def test_every_instant_lies_between_the_start_of_its_day_and_the_next(moment, hour, zone):
    tz = ZoneInfo(zone)
    instant = moment.replace(tzinfo=UTC)
    day = study_day(instant, hour, tz)
    assert day_start(day, hour, tz) <= instant < day_start(day + timedelta(days=1), hour, tz)


def test_due_counts_across_the_four_am_boundary_on_a_dst_day(tmp_path, store):
    """A review due 03:30 EDT on 9 March belongs to study day 8 March (a 23-hour day)."""
    pack = make_pack(tmp_path, cards=2)
    clock = Clock(datetime(2026, 2, 1, 15, 0, tzinfo=UTC))
    config = Config(timezone="America/New_York")
    first = StudySession(store, [pack], config, clock=clock)
    first.answer(pack.cards[0], Rating.Easy, 1000)
    first.answer(pack.cards[1], Rating.Easy, 1000)
    due_in_day = datetime(2026, 3, 9, 3, 30, tzinfo=NEW_YORK)  # = 07:30 UTC
    due_next_day = datetime(2026, 3, 9, 4, 30, tzinfo=NEW_YORK)
    for card, due in zip(pack.cards, (due_in_day, due_next_day)):
        with store.transaction():
            store.put_card_row(replace(store.card_row("demo", card.id), due_ms=ms(due)))

    clock.now = datetime(2026, 3, 8, 3, 59, tzinfo=NEW_YORK)  # still study day 7 March (EST)
    assert StudySession(store, [pack], config, clock=clock).counts().review == 0
    clock.now = datetime(2026, 3, 8, 4, 0, tzinfo=NEW_YORK)  # 08:00 UTC: study day 8 March (EDT)
    session = StudySession(store, [pack], config, clock=clock)
    assert session.counts().review == 1
    assert session.next_card() == pack.cards[0]
    clock.now = datetime(2026, 3, 9, 4, 0, tzinfo=NEW_YORK)  # the session rolls over by itself
    assert session.counts().review == 2


def test_a_session_left_open_over_the_rollover_starts_a_new_day(tmp_path, store):
    clock = Clock(datetime(2026, 5, 4, 23, 0, tzinfo=UTC))
    pack = make_pack(tmp_path, cards=3)
    session = session_for(store, [pack], clock, new_per_day=1)
    session.answer(session.next_card(), Rating.Easy, 1000)
    assert session.counts().new == 0
    clock.now = datetime(2026, 5, 5, 4, 0, tzinfo=UTC)
    assert session.counts().new == 1


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=20), "<1m"),
        (timedelta(minutes=10), "10m"),
        (timedelta(minutes=5.5), "6m"),
        (timedelta(hours=1), "1h"),
        (timedelta(hours=1, minutes=30), "1.5h"),
        (timedelta(days=3), "3d"),
        (timedelta(days=63), "2.1mo"),
        (timedelta(days=547), "1.5y"),
        (timedelta(minutes=59, seconds=50), "1h"),  # never "60m", "24h", "30d" or "12mo"
        (timedelta(hours=23, minutes=58), "1d"),
        (timedelta(days=29, hours=20), "1mo"),
        (timedelta(days=359), "1y"),
    ],
)
def test_format_interval(delta, text):
    assert format_interval(delta) == text


# -- two processes -------------------------------------------------------------------------------


def test_two_processes_answering_at_once_record_every_review_exactly_once(tmp_path):
    pack_path = write_pack(tmp_path, cards=40)
    store_path = tmp_path / "reviews.sqlite3"
    Store.open(store_path).close()
    context = multiprocessing.get_context("spawn")
    ready = [context.Event(), context.Event()]
    go, results = context.Event(), context.Queue()
    answers = 60
    workers = [
        context.Process(
            target=answer_in_process,
            args=(str(store_path), str(pack_path), answers, rating, ready[index], go, results),
        )
        for index, rating in enumerate((Rating.Again, Rating.Hard))
    ]
    for worker in workers:
        worker.start()
    try:
        for event in ready:
            assert event.wait(60), "a worker did not start"
        go.set()  # both answer at the same time
        answered = dict(results.get(timeout=60) for _ in workers)
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
    assert all(worker.exitcode == 0 for worker in workers)

    with Store.open(store_path) as store:
        rows = store.query("SELECT card_id, rating FROM review_log")
        states = store.card_rows()
    expected = Counter((card, rating) for rating, ids in answered.items() for card in ids)
    assert len(rows) == 2 * answers
    assert Counter(rows) == expected
    per_card = Counter(card for card, _ in rows)
    assert {key[1]: row.reps for key, row in states.items()} == dict(per_card)  # no update lost


def test_when_the_cards_run_out_the_answers_reach_the_database_file(tmp_path, store):
    """Checkpoints happen at quiet moments, not inside an answer (SQLite's automatic one is off)."""
    assert store.query("PRAGMA wal_autocheckpoint") == [(0,)]
    store.checkpoint()  # the schema is in the main file; what follows is in the WAL until a checkpoint
    clock = Clock()
    pack = make_pack(tmp_path, cards=2)
    session = session_for(store, [pack], clock)
    for card in pack.cards:
        session.answer(card, Rating.Easy, 1000)

    def rows_in_main_file() -> int:
        copy = tmp_path / "copy.sqlite3"
        copy.write_bytes(store.path.read_bytes())  # the main file alone, without its WAL
        connection = sqlite3.connect(copy)
        count = connection.execute("SELECT count(*) FROM review_log").fetchone()[0]
        connection.close()
        copy.unlink()
        return count

    assert rows_in_main_file() == 0  # still only in the WAL
    assert session.next_card() is None
    assert rows_in_main_file() == 2


# -- the incremental queues agree with a fresh look at the store ----------------------------------

ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("answer"), st.sampled_from(list(Rating))),
        st.tuples(st.just("undo"), st.none()),
        st.tuples(st.just("bury"), st.none()),
        st.tuples(st.just("suspend"), st.none()),
        st.tuples(st.just("wait"), st.sampled_from([1, 11, 30, 60 * 5, 60 * 20, 60 * 24 * 3])),  # minutes
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(actions=ACTIONS)
def test_a_long_running_session_agrees_with_a_fresh_one(tmp_path_factory, actions):
    folder = tmp_path_factory.mktemp("agree")
    pack = make_pack(folder, cards=6)
    clock = Clock()
    config = Config(timezone="America/New_York", new_per_day=3, reviews_per_day=2, leech_lapses=2)
    with Store.open(folder / "reviews.sqlite3") as store:
        session = StudySession(store, [pack], config, clock=clock)
        for action, argument in actions:
            card = session.next_card()
            if action == "wait":
                clock.advance(minutes=argument)
            elif action == "undo":
                session.undo()
            elif card is not None and action == "answer":
                session.answer(card, argument, 1000)
            elif card is not None and action == "bury":
                session.bury(card)
            elif card is not None and action == "suspend":
                session.suspend(card)
            fresh = StudySession(store, [pack], config, clock=clock)
            assert session.counts() == fresh.counts()
            assert session.next_card() == fresh.next_card()
            assert session.next_due_at() == fresh.next_due_at()
