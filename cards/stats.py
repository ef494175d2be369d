"""Numbers for the stats screen and `cardlab stats --json`.

Days here are study days (they begin at the configured rollover hour, local time), so "today" matches
what the study screen counts.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from cards.config import Config
from cards.fsrs_step import LEECH_TAG
from cards.pack import Pack
from cards.store import NEW, REVIEW, SCHEDULED, Store
from cards.study_day import day_start as study_day_start
from cards.study_day import from_ms, study_day, to_ms, utc_now

FORECAST_DAYS = 30
HEATMAP_DAYS = 26 * 7
RETENTION_DAYS = 30
RETENTION_MONTHS = 12
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
class MonthRetention:
    month: date  # the first day of the month
    answered: int  # answers to cards in the review state
    recalled: int  # of them, not Again

    @property
    def retention(self) -> float:
        return self.recalled / self.answered


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


@dataclass
class _Tally:
    """One pack's counts while the card states are scanned."""

    due_today: int = 0
    seen: int = 0  # cards of the pack answered at least once
    hidden_new: int = 0  # never-answered cards of the pack that are suspended or buried
    suspended: int = 0
    leeches: int = 0


def collect_stats(
    store: Store, packs: Sequence[Pack], config: Config, clock: Callable[[], datetime] = utc_now
) -> Stats:
    now = clock()
    tz = config.tzinfo()
    today = study_day(now, config.rollover_hour, tz)

    def start_ms(day: date) -> int:
        return to_ms(study_day_start(day, config.rollover_hour, tz))

    today_ms = start_ms(today)
    forecast_days = [today + timedelta(days=offset) for offset in range(FORECAST_DAYS)]
    scan = _scan_card_states(
        store, packs, today_ms, [start_ms(day + timedelta(days=1)) for day in forecast_days]
    )

    # Cram answers (custom study without rescheduling) are left out of every figure.
    totals = dict(
        store.query("SELECT pack_id, count(*) FROM review_log WHERE kind = ? GROUP BY pack_id", (SCHEDULED,))
    )
    today_rows = store.query(
        "SELECT pack_id, count(*), sum(state_before = ?), sum(duration_ms) FROM review_log "
        "INDEXED BY review_log_by_time WHERE reviewed_at_ms >= ? AND kind = ? GROUP BY pack_id",
        (NEW, today_ms, SCHEDULED),
    )
    answered_today = {pack_id: (count, new) for pack_id, count, new, _ in today_rows}
    pack_stats = {
        pack.id: _pack_stats(pack, scan.tallies[pack.id], totals, answered_today, config) for pack in packs
    }
    retention, retention_reviews = _retention(store, start_ms(today - timedelta(days=RETENTION_DAYS - 1)))
    return Stats(
        generated_at=now,
        today=today,
        reviews_total=sum(totals.values()),
        reviews_today=sum(count for count, _ in answered_today.values()),
        due_today=sum(p.due_today for p in pack_stats.values()),
        new_today=sum(new for _, new in answered_today.values()),
        new_available=sum(p.new_available for p in pack_stats.values()),
        never_seen=sum(p.never_seen for p in pack_stats.values()),
        seconds_today=sum(spent or 0 for *_, spent in today_rows) / 1000,
        retention=retention,
        retention_reviews=retention_reviews,
        forecast=[(day, scan.due_per_day[index]) for index, day in enumerate(forecast_days)],
        heatmap=_heatmap(store, today, start_ms),
        packs=pack_stats,
        orphaned=scan.orphaned,
        leeches=scan.leeches,
        suspended=scan.suspended,
    )


@dataclass
class _Scan:
    tallies: dict[str, _Tally]
    due_per_day: Counter[int] = field(default_factory=Counter)  # forecast day index -> cards due
    orphaned: list[CardRef] = field(default_factory=list)
    leeches: list[CardRef] = field(default_factory=list)
    suspended: list[CardRef] = field(default_factory=list)


def _scan_card_states(store: Store, packs: Sequence[Pack], today_ms: int, forecast_ends: list[int]) -> _Scan:
    """One pass over every stored card state (plain rows, no objects per card: 100,000 cards is fine)."""
    card_ids = {pack.id: {card.id for card in pack.cards} for pack in packs}
    tomorrow_ms = forecast_ends[0]
    scan = _Scan(tallies={pack.id: _Tally() for pack in packs})
    for pack_id, card_id, state, due_ms, buried_until_ms, is_suspended, tags, reps, last_ms in store.query(
        "SELECT pack_id, card_id, state, due_ms, buried_until_ms, suspended, tags, reps, last_review_ms "
        "FROM card_state ORDER BY pack_id, card_id"
    ):
        if card_id not in card_ids.get(pack_id, ()):
            if reps > 0:
                scan.orphaned.append(_ref(pack_id, card_id, reps, last_ms))
            continue
        tally = scan.tallies[pack_id]
        hidden = bool(is_suspended) or (buried_until_ms or 0) > today_ms
        tally.seen += reps > 0
        tally.hidden_new += reps == 0 and hidden
        if is_suspended:
            tally.suspended += 1
            scan.suspended.append(_ref(pack_id, card_id, reps, last_ms))
        if LEECH_TAG in tags.split():
            tally.leeches += 1
            scan.leeches.append(_ref(pack_id, card_id, reps, last_ms))
        if state == NEW or is_suspended:
            continue
        tally.due_today += not hidden and due_ms < tomorrow_ms
        index = bisect_right(forecast_ends, max(due_ms, buried_until_ms or 0))
        if index < len(forecast_ends):
            scan.due_per_day[index] += 1
    return scan


def _ref(pack_id: str, card_id: str, reps: int, last_review_ms: int | None) -> CardRef:
    last = from_ms(last_review_ms) if last_review_ms is not None else None
    return CardRef(pack_id, card_id, reps, last)


def _pack_stats(
    pack: Pack,
    tally: _Tally,
    totals: dict[str, int],
    answered_today: dict[str, tuple[int, int]],
    config: Config,
) -> PackStats:
    reviews_today, new_today = answered_today.get(pack.id, (0, 0))
    never_seen = len(pack.cards) - tally.seen
    return PackStats(
        pack_id=pack.id,
        title=pack.title,
        cards=len(pack.cards),
        reviews_total=totals.get(pack.id, 0),
        reviews_today=reviews_today,
        due_today=tally.due_today,
        new_today=new_today,
        new_available=min(never_seen - tally.hidden_new, max(0, config.new_per_day - new_today)),
        never_seen=never_seen,
        suspended=tally.suspended,
        leeches=tally.leeches,
    )


def _retention(store: Store, since_ms: int) -> tuple[float | None, int]:
    """True retention: of the answers to cards in the review state, the share that were not Again."""
    ((answered, recalled),) = store.query(
        "SELECT count(*), coalesce(sum(rating > 1), 0) FROM review_log INDEXED BY review_log_by_time "
        "WHERE state_before = ? AND reviewed_at_ms >= ? AND kind = ?",
        (REVIEW, since_ms, SCHEDULED),
    )
    return (recalled / answered if answered else None), answered


def retention_by_month(store: Store, config: Config) -> list[MonthRetention]:
    """True retention per month of study days (the answers `_retention` counts), up to the 12 months
    ending with the latest such answer (an imported history may have stopped long ago), oldest first.

    It reads the whole year's log, so the stats screen asks for it from its worker."""
    tz, rollover_hour = config.tzinfo(), config.rollover_hour

    def start_ms(day: date) -> int:
        return to_ms(study_day_start(day, rollover_hour, tz))

    ((latest_ms,),) = store.query(
        "SELECT max(reviewed_at_ms) FROM review_log INDEXED BY review_log_by_time WHERE state_before = ?",
        (REVIEW,),
    )
    if latest_ms is None:
        return []
    last = study_day(from_ms(latest_ms), rollover_hour, tz).replace(day=1)
    months = [_add_months(last, -back) for back in range(RETENTION_MONTHS - 1, -1, -1)]
    bounds = [start_ms(_add_months(month, 1)) for month in months]
    answered: Counter[date] = Counter()
    recalled: Counter[date] = Counter()
    buckets = store.query(
        f"SELECT reviewed_at_ms / {_BUCKET_MS}, count(*), sum(rating > 1) FROM review_log "
        "INDEXED BY review_log_by_time WHERE state_before = ? AND reviewed_at_ms >= ? GROUP BY 1",
        (REVIEW, start_ms(months[0])),
    )
    for bucket, count, hits in buckets:
        index = bisect_right(bounds, bucket * _BUCKET_MS)
        if index < len(months):
            answered[months[index]] += count
            recalled[months[index]] += hits
    return [MonthRetention(month, answered[month], recalled[month]) for month in months if answered[month]]


def _add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def _heatmap(store: Store, today: date, start_ms: Callable[[date], int]) -> dict[date, int]:
    first = today - timedelta(days=HEATMAP_DAYS - 1)
    days = [first + timedelta(days=offset) for offset in range(HEATMAP_DAYS)]
    bounds = [start_ms(day + timedelta(days=1)) for day in days]
    counts: Counter[date] = Counter()
    buckets = store.query(
        f"SELECT reviewed_at_ms / {_BUCKET_MS}, count(*) FROM review_log INDEXED BY review_log_by_time "
        "WHERE reviewed_at_ms >= ? AND kind = ? GROUP BY 1",
        (start_ms(first), SCHEDULED),
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


def retention_by_month_to_json(months: list[MonthRetention]) -> list[dict[str, Any]]:
    return [
        {"month": m.month.strftime("%Y-%m"), "reviews": m.answered, "retention": round(m.retention, 4)}
        for m in months
    ]
