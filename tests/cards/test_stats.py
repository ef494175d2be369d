"""Stats: today's numbers per pack and overall, retention, forecast, heatmap, orphans, leeches."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from cards.config import Config
from cards.fsrs_step import Rating
from cards.schedule import StudySession
from cards.stats import FORECAST_DAYS, HEATMAP_DAYS, collect_stats, stats_to_json
from cards.store import Store
from tests.cards._study_helpers import Clock, make_pack

CONFIG = Config(timezone="UTC")


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "reviews.sqlite3") as opened:
        yield opened


def study(store, packs, clock, answers: list[tuple[int, int]]) -> StudySession:
    """Answer `answers` as (pack index, rating), each with the session's next card of that pack."""
    session = StudySession(store, packs, CONFIG, clock=clock)
    for pack_index, rating in answers:
        pack = packs[pack_index]
        card = next(c for c in pack.cards if session.card_state(c) is None)
        session.answer(card, rating, 2000)
    return session


def test_today_numbers_overall_and_per_pack(tmp_path, store):
    clock = Clock(datetime(2026, 5, 4, 10, 0, tzinfo=UTC))
    first, second = make_pack(tmp_path, "first", 4), make_pack(tmp_path, "second", 3)
    study(store, [first, second], clock, [(0, Rating.Easy), (0, Rating.Again)])  # yesterday, for the day
    clock.now = datetime(2026, 5, 5, 10, 0, tzinfo=UTC)
    study(store, [first, second], clock, [(0, Rating.Good), (1, Rating.Again), (1, Rating.Easy)])

    stats = collect_stats(store, [first, second], CONFIG, clock=clock)

    assert stats.today == date(2026, 5, 5)
    assert (stats.reviews_total, stats.reviews_today, stats.new_today) == (5, 3, 3)
    assert stats.seconds_today == 6.0
    one, two = stats.packs["first"], stats.packs["second"]
    assert (one.reviews_total, one.reviews_today, one.new_today) == (3, 1, 1)
    assert (two.reviews_total, two.reviews_today, two.new_today) == (2, 2, 2)
    # first: yesterday's Again (learning, due yesterday) and today's Good (learning) are due today
    assert (one.due_today, two.due_today) == (2, 1)
    assert stats.due_today == 3
    assert (one.never_seen, two.never_seen, stats.never_seen) == (1, 1, 2)
    assert (one.new_available, two.new_available) == (1, 1)


def test_true_retention_counts_only_review_state_answers_of_the_last_30_days(tmp_path, store):
    clock = Clock(datetime(2026, 1, 1, 10, 0, tzinfo=UTC))
    pack = make_pack(tmp_path, cards=4)
    session = study(store, [pack], clock, [(0, Rating.Easy)] * 4)
    clock.now = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)  # all four are review cards, overdue
    session = StudySession(store, [pack], CONFIG, clock=clock)
    for card, rating in zip(pack.cards, (Rating.Good, Rating.Hard, Rating.Again, Rating.Easy)):
        session.answer(card, rating, 1000)
    stats = collect_stats(store, [pack], CONFIG, clock=clock)
    assert (stats.retention, stats.retention_reviews) == (0.75, 4)

    clock.now = datetime(2026, 4, 15, 10, 0, tzinfo=UTC)  # those answers are now older than 30 days
    later = collect_stats(store, [pack], CONFIG, clock=clock)
    assert (later.retention, later.retention_reviews) == (None, 0)


def test_forecast_and_heatmap(tmp_path, store):
    clock = Clock(datetime(2026, 5, 4, 10, 0, tzinfo=UTC))
    pack = make_pack(tmp_path, cards=3)
    study(store, [pack], clock, [(0, Rating.Easy)] * 3)
    due_days = [0, 2, 40]  # today, in two days, beyond the forecast
    for card, offset in zip(pack.cards, due_days):
        row = store.card_row("demo", card.id)
        with store.transaction():
            store.put_card_row(
                replace(row, due_ms=int((clock.now + timedelta(days=offset)).timestamp() * 1000))
            )
    clock.advance(days=1)  # the first card is now overdue: it counts for today

    stats = collect_stats(store, [pack], CONFIG, clock=clock)

    assert len(stats.forecast) == FORECAST_DAYS
    assert stats.forecast[0] == (date(2026, 5, 5), 1)
    assert stats.forecast[1] == (date(2026, 5, 6), 1)
    assert sum(count for _, count in stats.forecast) == 2
    assert stats.heatmap == {date(2026, 5, 4): 3}
    clock.advance(days=HEATMAP_DAYS)
    assert collect_stats(store, [pack], CONFIG, clock=clock).heatmap == {}


def test_heatmap_groups_by_study_day_not_utc_day(tmp_path, store):
    pack = make_pack(tmp_path, cards=2)
    config = Config(timezone="America/New_York")  # rollover 04:00 local = 08:00 UTC in May
    clock = Clock(datetime(2026, 5, 5, 7, 30, tzinfo=UTC))  # 03:30 local: still study day 4 May
    session = StudySession(store, [pack], config, clock=clock)
    session.answer(pack.cards[0], Rating.Good, 1000)
    clock.now = datetime(2026, 5, 5, 8, 30, tzinfo=UTC)  # 04:30 local: study day 5 May
    session.answer(pack.cards[1], Rating.Good, 1000)
    stats = collect_stats(store, [pack], config, clock=clock)
    assert stats.heatmap == {date(2026, 5, 4): 1, date(2026, 5, 5): 1}
    assert stats.reviews_today == 1


def test_removed_cards_are_orphaned_history_kept_in_the_store(tmp_path, store):
    clock = Clock()
    pack = make_pack(tmp_path, cards=3)
    study(store, [pack], clock, [(0, Rating.Good)] * 3)
    smaller = make_pack(tmp_path, cards=2)  # q2 removed from the pack file
    stats = collect_stats(store, [smaller], CONFIG, clock=clock)
    assert [(ref.pack_id, ref.card_id, ref.reviews) for ref in stats.orphaned] == [("demo", "q2", 1)]
    assert store.card_row("demo", "q2") is not None
    assert stats.reviews_total == 3
    assert stats.due_today == 2  # the orphan is not counted as due
    assert StudySession(store, [smaller], CONFIG, clock=clock).counts().learning == 2


def test_leeches_and_suspended_cards_are_listed(tmp_path, store):
    clock = Clock()
    pack = make_pack(tmp_path, cards=3)
    session = StudySession(store, [pack], Config(timezone="UTC", leech_lapses=1), clock=clock)
    session.answer(pack.cards[0], Rating.Easy, 1000)
    clock.now = session.next_due_at()
    session.answer(pack.cards[0], Rating.Again, 1000)  # one lapse: a leech at this threshold
    session.suspend(pack.cards[1])
    stats = collect_stats(store, [pack], CONFIG, clock=clock)
    assert [ref.card_id for ref in stats.leeches] == ["q0"]
    assert sorted(ref.card_id for ref in stats.suspended) == ["q0", "q1"]
    assert stats.packs["demo"].suspended == 2
    assert stats.packs["demo"].leeches == 1


def test_json_form_has_the_documented_keys_and_serializes(tmp_path, store):
    clock = Clock()
    pack = make_pack(tmp_path, cards=2)
    study(store, [pack], clock, [(0, Rating.Good)])
    data = stats_to_json(collect_stats(store, [pack], CONFIG, clock=clock))
    for key in ("reviews_total", "reviews_today", "due_today", "new_today"):
        assert key in data
        assert key in data["packs"]["demo"]
    assert data["reviews_total"] == data["packs"]["demo"]["reviews_total"] == 1
    assert len(data["forecast"]) == FORECAST_DAYS
    assert json.loads(json.dumps(data)) == data


def test_empty_store(tmp_path, store):
    pack = make_pack(tmp_path, cards=2)
    stats = collect_stats(store, [pack], CONFIG, clock=Clock())
    assert (stats.reviews_total, stats.due_today, stats.never_seen, stats.new_available) == (0, 0, 2, 2)
    assert stats.retention is None
    assert stats.heatmap == {}
    assert stats.orphaned == []
