"""Numbers for the stats screen and `cardlab stats --json`.

Days here are study days (they begin at the configured rollover hour, local time), so "today" matches
what the study screen counts.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from cards.config import Config
from cards.pack import Pack
from cards.schedule import LEECH_TAG, from_ms, study_day, to_ms, utc_now
from cards.schedule import day_start as study_day_start
from cards.store import NEW, REVIEW, CardRow, Store

FORECAST_DAYS = 30
HEATMAP_DAYS = 26 * 7
RETENTION_DAYS = 30
_BUCKET_MS = 15 * 60 * 1000  # every zone's UTC offset is a multiple of 15 minutes


@dataclass(frozen=True)
class PackStats:
    pack_id: str
    title: str
    cards: int
    reviews_total: int
    reviews_today: int
    due_today: int  # learning and review cards due before the day ends (no limits applied)
    new_today: int  # new cards first answered today
    new_available: int  # new cards that may still be introduced today (limit applied)
    never_seen: int  # cards never answered
    suspended: int
    leeches: int


@dataclass(frozen=True)
class CardRef:
    pack_id: str
    card_id: str
    reviews: int
    last_review: datetime | None


@dataclass(frozen=True)
class Stats:
    generated_at: datetime
    today: date
    reviews_total: int
    reviews_today: int
    due_today: int
    new_today: int
    new_available: int
    never_seen: int
    seconds_today: float  # time spent answering today
    retention: float | None  # share of review-state answers in the last 30 days that were not Again
    retention_reviews: int  # how many answers that share is based on
    forecast: list[tuple[date, int]]  # cards due on each of the next 30 days (overdue ones on today)
    heatmap: dict[date, int]  # reviews per study day, last 26 weeks (days with none are left out)
    packs: dict[str, PackStats]
    orphaned: list[CardRef]  # history of cards no longer in any loaded pack: kept, not deleted
    leeches: list[CardRef]
    suspended: list[CardRef]


def collect_stats(
    store: Store, packs: Sequence[Pack], config: Config, clock: Callable[[], datetime] = utc_now
) -> Stats:
    now = clock()
    tz = config.tzinfo()
    today = study_day(now, config.rollover_hour, tz)

    def start_ms(day: date) -> int:
        return to_ms(study_day_start(day, config.rollover_hour, tz))

    today_ms, tomorrow_ms = start_ms(today), start_ms(today + timedelta(days=1))
    rows = store.card_rows()
    loaded = {(card.pack_id, card.id) for pack in packs for card in pack.cards}
    per_pack_totals = dict(store.query("SELECT pack_id, count(*) FROM review_log GROUP BY pack_id"))
    today_rows = store.query(
        "SELECT pack_id, count(*), sum(state_before = ?), sum(duration_ms) FROM review_log "
        "INDEXED BY review_log_by_time WHERE reviewed_at_ms >= ? GROUP BY pack_id",
        (NEW, today_ms),
    )
    answered_today = {pack_id: (count, new) for pack_id, count, new, _ in today_rows}
    seconds_today = sum(spent or 0 for *_, spent in today_rows) / 1000
    pack_stats = {
        pack.id: _pack_stats(pack, rows, per_pack_totals, answered_today, config, today_ms, tomorrow_ms)
        for pack in packs
    }
    retention, retention_reviews = _retention(store, start_ms(today - timedelta(days=RETENTION_DAYS - 1)))
    visible = [row for key, row in rows.items() if key in loaded]
    return Stats(
        generated_at=now,
        today=today,
        reviews_total=store.review_count(),
        reviews_today=sum(count for count, _ in answered_today.values()),
        due_today=sum(p.due_today for p in pack_stats.values()),
        new_today=sum(new for _, new in answered_today.values()),
        new_available=sum(p.new_available for p in pack_stats.values()),
        never_seen=sum(p.never_seen for p in pack_stats.values()),
        seconds_today=seconds_today,
        retention=retention,
        retention_reviews=retention_reviews,
        forecast=_forecast(visible, today, start_ms),
        heatmap=_heatmap(store, today, start_ms),
        packs=pack_stats,
        orphaned=[_ref(row) for key, row in sorted(rows.items()) if key not in loaded and row.reps > 0],
        leeches=[_ref(row) for row in visible if LEECH_TAG in row.tags],
        suspended=[_ref(row) for row in visible if row.suspended],
    )


def _ref(row: CardRow) -> CardRef:
    last = from_ms(row.last_review_ms) if row.last_review_ms is not None else None
    return CardRef(row.pack_id, row.card_id, row.reps, last)


def _hidden_today(row: CardRow, today_ms: int) -> bool:
    return row.suspended or (row.buried_until_ms is not None and row.buried_until_ms > today_ms)


def _pack_stats(
    pack: Pack,
    rows: dict[tuple[str, str], CardRow],
    totals: dict[str, int],
    answered_today: dict[str, tuple[int, int]],
    config: Config,
    today_ms: int,
    tomorrow_ms: int,
) -> PackStats:
    due = never_seen = suspended = leeches = unseen_visible = 0
    for card in pack.cards:
        row = rows.get((pack.id, card.id))
        if row is None or row.reps == 0:
            never_seen += 1
            unseen_visible += row is None or not _hidden_today(row, today_ms)
        if row is None:
            continue
        suspended += row.suspended
        leeches += LEECH_TAG in row.tags
        if row.state != NEW and not _hidden_today(row, today_ms) and row.due_ms < tomorrow_ms:
            due += 1
    reviews_today, new_today = answered_today.get(pack.id, (0, 0))
    return PackStats(
        pack_id=pack.id,
        title=pack.title,
        cards=len(pack.cards),
        reviews_total=totals.get(pack.id, 0),
        reviews_today=reviews_today,
        due_today=due,
        new_today=new_today,
        new_available=min(unseen_visible, max(0, config.new_per_day - new_today)),
        never_seen=never_seen,
        suspended=suspended,
        leeches=leeches,
    )


def _retention(store: Store, since_ms: int) -> tuple[float | None, int]:
    """True retention: of the answers to cards in the review state, the share that were not Again."""
    (answered, recalled), = store.query(
        "SELECT count(*), coalesce(sum(rating > 1), 0) FROM review_log INDEXED BY review_log_by_time "
        "WHERE state_before = ? AND reviewed_at_ms >= ?",
        (REVIEW, since_ms),
    )  # fmt: skip
    return (recalled / answered if answered else None), answered


def _forecast(rows: list[CardRow], today: date, start_ms: Callable[[date], int]) -> list[tuple[date, int]]:
    days = [today + timedelta(days=offset) for offset in range(FORECAST_DAYS)]
    bounds = [start_ms(day + timedelta(days=1)) for day in days]  # bounds[i]: when day i ends
    counts = Counter()
    for row in rows:
        if row.suspended or row.state == NEW or row.due_ms is None:
            continue
        due = max(row.due_ms, row.buried_until_ms or 0)
        index = bisect_right(bounds, due)
        if index < FORECAST_DAYS:
            counts[index] += 1
    return [(day, counts[index]) for index, day in enumerate(days)]


def _heatmap(store: Store, today: date, start_ms: Callable[[date], int]) -> dict[date, int]:
    first = today - timedelta(days=HEATMAP_DAYS - 1)
    days = [first + timedelta(days=offset) for offset in range(HEATMAP_DAYS)]
    bounds = [start_ms(day + timedelta(days=1)) for day in days]
    counts: Counter[date] = Counter()
    buckets = store.query(
        f"SELECT reviewed_at_ms / {_BUCKET_MS}, count(*) FROM review_log INDEXED BY review_log_by_time "
        "WHERE reviewed_at_ms >= ? GROUP BY 1",
        (start_ms(first),),
    )
    for bucket, count in buckets:
        index = bisect_right(bounds, bucket * _BUCKET_MS)
        if index < HEATMAP_DAYS:
            counts[days[index]] += count
    return dict(sorted(counts.items()))


def _ref_json(ref: CardRef) -> dict[str, Any]:
    return {
        "pack_id": ref.pack_id,
        "card_id": ref.card_id,
        "reviews": ref.reviews,
        "last_review": ref.last_review.isoformat() if ref.last_review else None,
    }


def stats_to_json(stats: Stats) -> dict[str, Any]:
    """A JSON-ready dict: the overall numbers, then `packs` with the same numbers per pack."""
    return {
        "generated_at": stats.generated_at.isoformat(),
        "today": stats.today.isoformat(),
        "reviews_total": stats.reviews_total,
        "reviews_today": stats.reviews_today,
        "due_today": stats.due_today,
        "new_today": stats.new_today,
        "new_available": stats.new_available,
        "never_seen": stats.never_seen,
        "seconds_today": round(stats.seconds_today, 3),
        "retention_30d": stats.retention,
        "retention_30d_reviews": stats.retention_reviews,
        "forecast": [{"date": day.isoformat(), "due": count} for day, count in stats.forecast],
        "heatmap": {day.isoformat(): count for day, count in stats.heatmap.items()},
        "packs": {
            pack_id: {
                "title": pack.title,
                "cards": pack.cards,
                "reviews_total": pack.reviews_total,
                "reviews_today": pack.reviews_today,
                "due_today": pack.due_today,
                "new_today": pack.new_today,
                "new_available": pack.new_available,
                "never_seen": pack.never_seen,
                "suspended": pack.suspended,
                "leeches": pack.leeches,
            }
            for pack_id, pack in stats.packs.items()
        },
        "orphaned": [_ref_json(ref) for ref in stats.orphaned],
        "leeches": [_ref_json(ref) for ref in stats.leeches],
        "suspended": [_ref_json(ref) for ref in stats.suspended],
    }
