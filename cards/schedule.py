"""Today's study queue over fsrs.

fsrs decides each card's next state and due time. The app owns the rest: the study day (it begins at a
local rollover hour, DST-safe; everything stored is UTC), the daily limits on new cards and reviews (per
pack), learning cards coming back within the day, bury, suspend, leeches and undo.

Queue order: learning cards due now, then reviews due today (earliest first), then new cards in pack file
order; when nothing else is left, learning cards due within the next 20 minutes are shown early.

Custom study (Anki's) puts a filtered queue in front of that one until it is used up: reviews due in the
next N days, cards forgotten in the last N days (both answered as usual), or cram, whose answers are only
logged (kind CRAM) and never move a card's state. Answering a card buries its siblings (the other cards
of its cloze note) until the next day when `bury_siblings` is on.
"""

from __future__ import annotations

import hashlib
import heapq
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import IntEnum

import fsrs
from fsrs.scheduler import DEFAULT_PARAMETERS, FUZZ_RANGES

from cards.config import Config
from cards.pack import Card, Pack
from cards.store import CRAM, NEW, REVIEW, SCHEDULED, CardRow, ReviewRow, Store

LEARN_AHEAD = timedelta(minutes=20)
CHECKPOINT_EVERY = 500  # answers between the store's WAL checkpoints while studying
LEECH_TAG = "leech"
DAY_MS = 86_400_000
CRAM_LABELS = {1: "again", 2: "done", 3: "done", 4: "done"}  # cram: Again shows it later, others end it

Key = tuple[str, str]  # (pack_id, card_id)


class Rating(IntEnum):
    Again = 1
    Hard = 2
    Good = 3
    Easy = 4


def utc_now() -> datetime:
    return datetime.now(UTC)


# -- time ----------------------------------------------------------------------------------------


def to_ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"the clock must give timezone-aware times, got {moment!r}")
    return moment.astimezone(UTC)


def study_day(moment: datetime, rollover_hour: int, tz: tzinfo | None) -> date:
    """The study day `moment` falls in: days begin at `rollover_hour` local time (tz None: system zone).

    Wall-clock arithmetic on the local time keeps the boundary at the same local hour across DST changes.
    """
    local = moment.astimezone(tz) if tz is not None else moment.astimezone()
    return (local.replace(tzinfo=None) - timedelta(hours=rollover_hour)).date()


def day_start(day: date, rollover_hour: int, tz: tzinfo | None) -> datetime:
    """The UTC instant at which study day `day` begins."""
    local = datetime.combine(day, time(rollover_hour))
    local = local.replace(tzinfo=tz) if tz is not None else local.astimezone()
    return local.astimezone(UTC)


def format_interval(delta: timedelta) -> str:
    """A short, Anki-like interval: "<1m", "10m", "1h", "3d", "2.1mo", "1.5y"."""
    seconds = delta.total_seconds()
    if seconds < 60:
        return "<1m"
    if round(seconds / 60) < 60:
        return f"{round(seconds / 60)}m"
    if round(seconds / 3600, 1) < 24:
        return f"{_one_decimal(seconds / 3600)}h"
    days = seconds / 86_400
    if round(days) < 30:
        return f"{round(days)}d"
    if round(days / 30, 1) < 12:
        return f"{_one_decimal(days / 30)}mo"
    return f"{_one_decimal(days / 365)}y"


def _one_decimal(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


# -- session -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    new: int
    learning: int
    review: int

    @property
    def total(self) -> int:
        return self.new + self.learning + self.review


@dataclass(frozen=True)
class SessionSummary:
    reviewed: int
    by_rating: dict[int, int]  # rating -> answers
    seconds: float  # time spent answering (sum of the recorded durations)
    next_due: datetime | None


@dataclass
class _Undo:
    card: Card
    before: CardRow | None  # the stored row before the action (None: there was none)
    review_id: int | None  # the log row the action added (answers only)
    rating: int | None = None
    duration_ms: int = 0
    answered_ms: int = 0
    cram: bool = False  # a cram answer: only the log row to take back
    siblings: list[tuple[Key, CardRow | None]] = field(default_factory=list)  # buried by the answer
    queue: tuple[Key, ...] | None = None  # the custom-study queue before the action


@dataclass
class _Custom:
    """A custom-study queue shown before the day's own queue until it is used up."""

    mode: str  # "ahead", "forgotten" or "cram"
    queue: deque[Key]

    @property
    def cram(self) -> bool:
        return self.mode == "cram"


@dataclass
class _PackDay:
    """One pack's queues and numbers for the current study day."""

    new_left: int  # new cards that may still be introduced today (the limit minus those introduced)
    reviews_left: int
    not_new: set[str]  # cards that cannot be introduced as new today: answered before, suspended or buried
    unseen: int = 0  # new cards not suspended or buried
    learning: int = 0  # learning cards due before the day ends
    due_reviews: int = 0  # review cards due before the day ends
    new_cursor: int = 0  # pack.cards before this index are known not to be new
    reviews: list[tuple[int, str]] = field(default_factory=list)  # heap of (due_ms, card id)


class StudySession:
    """What to study now across `packs`, writing every answer to `store` before returning.

    Start-up reads only what today needs (cards due today, and which cards were ever seen) with indexed
    queries; every change is written to the store first and then applied to the in-memory queues.
    """

    def __init__(
        self, store: Store, packs: Sequence[Pack], config: Config, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._store = store
        self.packs = tuple(packs)
        self.config = config
        self._clock = clock
        self._tz = config.tzinfo()
        self._scheduler = fsrs.Scheduler(
            parameters=config.fsrs_parameters or DEFAULT_PARAMETERS,
            desired_retention=config.desired_retention,
            learning_steps=tuple(timedelta(minutes=m) for m in config.learning_steps_min),
            relearning_steps=tuple(timedelta(minutes=m) for m in config.relearning_steps_min),
            enable_fuzzing=False,  # the app fuzzes deterministically, so previews match answers
        )
        self._packs_by_id = {pack.id: pack for pack in self.packs}
        self._order = {
            pack.id: {card.id: index for index, card in enumerate(pack.cards)} for pack in self.packs
        }
        self._siblings = _sibling_map(self.packs)
        self._custom: _Custom | None = None
        self._undo: list[_Undo] = []
        self._by_rating = dict.fromkeys(map(int, Rating), 0)
        self._spent_ms = 0
        self._wrote_since_checkpoint = False
        self._load()

    # -- loading the day -------------------------------------------------------------------------

    def _now(self) -> datetime:
        return _as_utc(self._clock())

    def _load(self) -> None:
        """Read what today needs from the store and build the queues."""
        now = self._now()
        self._day = study_day(now, self.config.rollover_hour, self._tz)
        self._day_start_ms = to_ms(day_start(self._day, self.config.rollover_hour, self._tz))
        self._day_end_ms = to_ms(
            day_start(self._day + timedelta(days=1), self.config.rollover_hour, self._tz)
        )
        done = self._store.answered_since(self._day_start_ms)
        self._rows: dict[Key, CardRow] = {}  # full rows read or written since the day was loaded
        self._loaded: dict[Key, str] = {}  # category of each card due today, as loaded
        self._learning: list[tuple[int, Key]] = []  # heap of (due_ms, key)
        self._days: dict[str, _PackDay] = {}
        for pack in self.packs:
            self._load_pack_day(pack, done.get(pack.id, (0, 0)))
        heapq.heapify(self._learning)

    def _load_pack_day(self, pack: Pack, done: tuple[int, int]) -> None:
        """One pack's queues and counts for today; `done` is (new introduced, reviews answered) today."""
        order = self._order[pack.id]
        new_done, reviews_done = done
        not_new = self._store.unavailable_as_new(pack.id, self._day_start_ms)
        orphans = len(not_new.difference(order))  # history of cards since removed from the pack
        day = _PackDay(
            new_left=max(0, self.config.new_per_day - new_done),
            reviews_left=max(0, self.config.reviews_per_day - reviews_done),
            not_new=not_new,
            unseen=len(order) - (len(not_new) - orphans),
        )
        self._days[pack.id] = day
        for card_id, state, due_ms in self._store.due_entries(pack.id, self._day_start_ms, self._day_end_ms):
            if card_id in order:
                category = "review" if state == REVIEW else "learning"
                self._loaded[(pack.id, card_id)] = category
                self._count(category, day, +1)
                if category == "review":
                    day.reviews.append((due_ms, card_id))
                else:
                    self._learning.append((due_ms, (pack.id, card_id)))
        heapq.heapify(day.reviews)

    def replace_pack(self, pack: Pack) -> None:
        """Study the new version of one of this session's packs (same id; its file was saved).

        Every answer is already in the store, so the pack's day is simply read again from it: counts and
        limits carry on, the session's summary is kept, and undo steps keep working for the cards the
        pack still has (showing their new text). Steps for cards that left the pack are dropped.
        """
        if pack.id not in self._packs_by_id:
            raise ValueError(f"pack {pack.id!r} is not in this study session")
        self._roll_over_if_needed()
        self.packs = tuple(pack if other.id == pack.id else other for other in self.packs)
        self._packs_by_id[pack.id] = pack
        order = {card.id: index for index, card in enumerate(pack.cards)}
        self._order[pack.id] = order
        for cache in (self._rows, self._loaded):
            for key in [key for key in cache if key[0] == pack.id]:
                del cache[key]
        self._learning = [entry for entry in self._learning if entry[1][0] != pack.id]
        self._load_pack_day(pack, self._store.answered_since(self._day_start_ms).get(pack.id, (0, 0)))
        heapq.heapify(self._learning)
        self._undo = [
            replace(entry, card=pack.cards[order[entry.card.id]]) if entry.card.pack_id == pack.id else entry
            for entry in self._undo
            if entry.card.pack_id != pack.id or entry.card.id in order
        ]

    def _category(self, row: CardRow | None) -> str | None:
        """Which of today's counts a card belongs to: "new", "learning", "review" or None."""
        if row is None:
            return "new"
        if row.suspended or (row.buried_until_ms is not None and row.buried_until_ms > self._day_start_ms):
            return None
        if row.state == NEW:
            return "new"
        if row.due_ms is not None and row.due_ms < self._day_end_ms:
            return "review" if row.state == REVIEW else "learning"
        return None

    def _category_of(self, key: Key) -> str | None:
        row = self._rows.get(key)
        if row is not None:
            return self._category(row)
        if key in self._loaded:
            return self._loaded[key]
        return None if key[1] in self._days[key[0]].not_new else "new"

    @staticmethod
    def _count(category: str | None, day: _PackDay, sign: int) -> None:
        if category == "new":
            day.unseen += sign
        elif category == "learning":
            day.learning += sign
        elif category == "review":
            day.due_reviews += sign

    def _enqueue(self, row: CardRow) -> None:
        category = self._category(row)
        if category == "learning":
            heapq.heappush(self._learning, (_due_ms(row), row.key))
        elif category == "review":
            heapq.heappush(self._days[row.pack_id].reviews, (_due_ms(row), row.card_id))

    def _replace_row(self, key: Key, row: CardRow | None) -> None:
        """Apply a card's new stored state (None: no row) to the counts and queues."""
        day = self._days[key[0]]
        self._count(self._category_of(key), day, -1)
        self._loaded.pop(key, None)  # from now on the row (or its absence) says where the card belongs
        category = self._category(row)
        self._count(category, day, +1)
        if row is None:
            self._rows.pop(key, None)
        else:
            self._rows[key] = row
            self._enqueue(row)
        if category == "new":
            day.not_new.discard(key[1])
            day.new_cursor = min(day.new_cursor, self._order[key[0]][key[1]])
        else:
            day.not_new.add(key[1])

    def _roll_over_if_needed(self) -> datetime:
        now = self._now()
        if not self._day_start_ms <= to_ms(now) < self._day_end_ms:
            self._load()
        return now

    def _row(self, key: Key) -> CardRow | None:
        """The card's full stored state, read from the store the first time it is needed."""
        if key not in self._rows:
            row = self._store.card_row(*key)
            if row is None:
                return None
            self._replace_row(key, row)  # it may have changed since loading (another cardlab)
        return self._rows[key]

    def _card(self, key: Key) -> Card:
        return self._packs_by_id[key[0]].cards[self._order[key[0]][key[1]]]

    # -- what to show ----------------------------------------------------------------------------

    def counts(self, pack_id: str | None = None) -> Counts:
        """What is left today (limits applied), for one pack or all of them."""
        self._roll_over_if_needed()
        if pack_id is not None and pack_id not in self._days:
            raise ValueError(f"pack {pack_id!r} is not in this study session")
        days = [self._days[pack_id]] if pack_id is not None else list(self._days.values())
        return Counts(  # a limit can go below zero when a card is answered past it (e.g. by another cardlab)
            new=sum(max(0, min(day.new_left, day.unseen)) for day in days),
            learning=sum(day.learning for day in days),
            review=sum(max(0, min(day.reviews_left, day.due_reviews)) for day in days),
        )

    def next_card(self) -> Card | None:
        now_ms = to_ms(self._roll_over_if_needed())
        custom = self._custom_top()
        if custom is not None:
            return self._card(custom)
        learning = self._top_learning()
        if learning is not None and learning[0] <= now_ms:
            return self._card(learning[1])
        review = self._top_review()
        if review is not None:
            return self._card(review)
        new = self._next_new()
        if new is not None:
            return new
        if learning is not None and learning[0] <= now_ms + LEARN_AHEAD.total_seconds() * 1000:
            return self._card(learning[1])
        if self._wrote_since_checkpoint:
            self._store.checkpoint()  # nothing left to show: a quiet moment to tidy the WAL
            self._wrote_since_checkpoint = False
        return None

    def _valid(self, key: Key, due_ms: int, category: str) -> bool:
        """Whether a queue entry still holds: untouched since loading, or matching the card's new state."""
        row = self._rows.get(key)
        if row is None:
            return self._loaded.get(key) == category
        return row.due_ms == due_ms and self._category(row) == category

    def _top_learning(self) -> tuple[int, Key] | None:
        """The earliest learning card (entries go stale when a card changes; they are dropped here)."""
        while self._learning:
            due_ms, key = self._learning[0]
            if self._valid(key, due_ms, "learning"):
                return self._learning[0]
            heapq.heappop(self._learning)
        return None

    def _top_review(self) -> Key | None:
        """The earliest review due today among the packs whose review limit is not reached."""
        best: tuple[int, Key] | None = None
        for pack_id, day in self._days.items():
            if day.reviews_left <= 0:
                continue
            while day.reviews:
                due_ms, card_id = day.reviews[0]
                if self._valid((pack_id, card_id), due_ms, "review"):
                    if best is None or due_ms < best[0]:
                        best = (due_ms, (pack_id, card_id))
                    break
                heapq.heappop(day.reviews)
        return best[1] if best else None

    def _next_new(self) -> Card | None:
        for pack in self.packs:
            day = self._days[pack.id]
            if day.new_left <= 0:
                continue
            cards = pack.cards
            while day.new_cursor < len(cards):
                card = cards[day.new_cursor]
                if self._category_of((pack.id, card.id)) == "new":
                    return card
                day.new_cursor += 1
        return None

    def card_state(self, card: Card) -> CardRow | None:
        """The card's stored scheduling state (None: never answered, buried nor suspended)."""
        return self._row(self._key(card))

    def is_edited(self, card: Card) -> bool:
        """True when the card was answered before and its content has changed since."""
        row = self._row(self._key(card))
        return row is not None and row.reps > 0 and row.content_hash != card.content_hash

    def next_due_at(self) -> datetime | None:
        """When the next card becomes available (now, if one is), or None when nothing is scheduled."""
        now_ms = to_ms(self._roll_over_if_needed())
        if self.next_card() is not None:
            return from_ms(now_ms)
        candidates: list[int] = []
        for pack_id, day in self._days.items():
            order = self._order[pack_id]
            for card_id, state, available_ms in self._store.scheduled_rows(pack_id):
                if candidates and available_ms >= min(candidates):
                    break  # sorted by availability: nothing later can be earlier
                if card_id not in order:
                    continue
                if state == REVIEW and day.reviews_left <= 0:
                    available_ms = max(available_ms, self._day_end_ms)
                candidates.append(available_ms)
            buried_new = self._store.buried_new_until(pack_id, now_ms)
            if buried_new is not None:
                candidates.append(buried_new)
            if day.unseen > 0:
                candidates.append(self._day_end_ms)  # today's new-card limit is reached
        return from_ms(max(min(candidates), now_ms)) if candidates else None

    # -- answering -------------------------------------------------------------------------------

    def preview_intervals(self, card: Card) -> dict[int, timedelta]:
        """For each rating, how long until the card would come back.

        Whole milliseconds on both sides, as stored: a `now` with a sub-millisecond part would otherwise
        make a 60 s step read 59.9996 s ("<1m") on one card and 60.0004 s ("1m") on the next."""
        now_ms = to_ms(self._now())
        now = from_ms(now_ms)
        row = self._row(self._key(card))
        return {
            int(rating): timedelta(milliseconds=_due_ms(self._next_row(card, row, rating, now)) - now_ms)
            for rating in Rating
        }

    def preview_labels(self, card: Card) -> dict[int, str]:
        """The text of each grade button: the interval it gives, or what cram does with the card."""
        if self._in_cram(card):
            return dict(CRAM_LABELS)
        return {rating: format_interval(delta) for rating, delta in self.preview_intervals(card).items()}

    def answer(self, card: Card, rating: int, duration_ms: int) -> bool:
        """Grade `card`; the new state and the log row are committed in one transaction before returning.

        Returns True when this answer made the card a leech (suspended and tagged `leech`), for a notice."""
        rating = _check_rating(rating)
        if isinstance(duration_ms, bool) or not isinstance(duration_ms, int) or duration_ms < 0:
            raise ValueError(f"duration_ms must be a whole number of milliseconds >= 0, not {duration_ms!r}")
        key = self._key(card)
        now = from_ms(to_ms(self._roll_over_if_needed()))  # whole ms, as stored and as previewed
        if self._in_cram(card):
            self._answer_cram(card, rating, duration_ms, now)
            return False  # cram never changes lapses or flags
        with self._store.transaction() as store:
            before = store.card_row(*key)  # the stored state: another cardlab may have answered it meanwhile
            after = self._next_row(card, before, rating, now)
            store.put_card_row(after)
            siblings = self._bury_siblings(store, key)
            review_id = store.add_review(
                _review_row(card, rating, before.state if before else NEW, after, now, duration_ms)
            )
        queue = self._custom_answered(key)
        undo = _Undo(card, before, review_id, rating, duration_ms, to_ms(now), siblings=siblings, queue=queue)
        self._undo.append(undo)
        self._spend_limits(card.pack_id, before, -1)
        self._replace_row(key, after)
        for sibling, _ in siblings:
            self._replace_row(sibling, self._store.card_row(*sibling))
        self._answered(rating, duration_ms)
        return after.lapses > (before.lapses if before else 0) and self._is_leech(after.lapses)

    def _answered(self, rating: int, duration_ms: int) -> None:
        self._by_rating[rating] += 1
        self._spent_ms += duration_ms
        self._wrote_since_checkpoint = True
        if sum(self._by_rating.values()) % CHECKPOINT_EVERY == 0:
            self._store.checkpoint()

    def _bury_siblings(self, store: Store, key: Key) -> list[tuple[Key, CardRow | None]]:
        """Bury the other cards of `key`'s note until the next day (not those in learning steps, which
        come back within the day, as Anki does); returns each one's row before."""
        if not self.config.bury_siblings:
            return []
        buried = []
        for card_id in self._siblings.get(key, ()):
            sibling = (key[0], card_id)
            row = store.card_row(*sibling)
            if row is not None and (row.suspended or row.state not in (NEW, REVIEW)):
                continue
            if row is not None and (row.buried_until_ms or 0) >= self._day_end_ms:
                continue
            fresh = row or CardRow(*sibling, content_hash=self._card(sibling).content_hash)
            store.put_card_row(replace(fresh, buried_until_ms=self._day_end_ms))
            buried.append((sibling, row))
        return buried

    def _answer_cram(self, card: Card, rating: int, duration_ms: int, now: datetime) -> None:
        """Log the answer as cram; the card's state and due date stay as they are."""
        key = self._key(card)
        row = self._row(key)
        state = row.state if row else NEW
        with self._store.transaction() as store:
            # The state after is the state before: cram leaves the schedule as it was.
            review_id = store.add_review(_review_row(card, rating, state, row, now, duration_ms, kind=CRAM))
        queue = self._custom_answered(key, again=rating == Rating.Again)
        self._undo.append(
            _Undo(card, row, review_id, rating, duration_ms, to_ms(now), cram=True, queue=queue)
        )
        self._answered(rating, duration_ms)

    def _spend_limits(self, pack_id: str, before: CardRow | None, sign: int) -> None:
        day = self._days[pack_id]
        state = before.state if before else NEW
        if state == NEW:
            day.new_left += sign
        elif state == REVIEW:
            day.reviews_left += sign

    def _next_row(self, card: Card, row: CardRow | None, rating: int, now: datetime) -> CardRow:
        """The card's state after answering `rating` at `now` (fsrs, plus lapses, leeches and fuzz)."""
        if row is None or row.state == NEW:
            scheduled = fsrs.Card(card_id=0, state=fsrs.State.Learning, step=0, due=now)
        else:
            scheduled = fsrs.Card(
                card_id=0,
                state=fsrs.State(row.state),
                step=row.step,
                stability=row.stability,
                difficulty=row.difficulty,
                due=from_ms(row.due_ms) if row.due_ms is not None else now,
                last_review=from_ms(row.last_review_ms) if row.last_review_ms is not None else None,
            )
        result, _ = self._scheduler.review_card(scheduled, fsrs.Rating(rating), review_datetime=now)
        reps = row.reps if row else 0
        due = result.due
        if result.state == fsrs.State.Review:
            days = _fuzzed_days((due - now).days, f"{card.pack_id}\0{card.id}\0{reps}")
            due = now + timedelta(days=days)
        lapses = row.lapses if row else 0
        suspended = row.suspended if row else False
        tags = row.tags if row else ()
        if row is not None and row.state == REVIEW and rating == Rating.Again:
            lapses += 1
            if self._is_leech(lapses):
                suspended = True
                tags = tags if LEECH_TAG in tags else (*tags, LEECH_TAG)
        return CardRow(
            pack_id=card.pack_id,
            card_id=card.id,
            content_hash=card.content_hash,
            state=int(result.state),
            step=result.step,
            stability=result.stability,
            difficulty=result.difficulty,
            due_ms=to_ms(due),
            last_review_ms=to_ms(now),
            reps=reps + 1,
            lapses=lapses,
            buried_until_ms=None,
            suspended=suspended,
            tags=tags,
        )

    def _is_leech(self, lapses: int) -> bool:
        """A leech at the threshold, then again every half threshold (as Anki does)."""
        threshold = self.config.leech_lapses
        return lapses >= threshold and (lapses - threshold) % max(1, threshold // 2) == 0

    # -- custom study ----------------------------------------------------------------------------

    def study_ahead(self, days: int) -> int:
        """Queue the reviews due in the next `days` days after today, earliest first; returns how many.
        They are answered as usual (fsrs schedules an early review from its real elapsed time)."""
        _check_days(days)
        end_ms = self._day_end_ms + days * DAY_MS
        found = sorted(
            (due_ms, (pack.id, card_id))
            for pack in self.packs
            for card_id, due_ms in self._store.due_between(
                pack.id, self._day_end_ms, end_ms, to_ms(self._now())
            )
            if card_id in self._order[pack.id]
        )
        return self._start_custom("ahead", [key for _, key in found])

    def review_forgotten(self, days: int) -> int:
        """Queue the cards answered Again in the last `days` days (today included); returns how many."""
        _check_days(days)
        since_ms = self._day_end_ms - days * DAY_MS
        keys = [
            (pack.id, card_id)
            for pack in self.packs
            for card_id in self._store.forgotten_since(pack.id, since_ms)
            if card_id in self._order[pack.id]
        ]
        return self._start_custom("forgotten", keys)

    def cram(self, cards: Iterable[Card]) -> int:
        """Queue `cards` (in the order given) for cram: answers are logged as cram and change nothing
        else; Again shows the card again at the end of the queue. Returns how many are queued."""
        return self._start_custom("cram", [self._key(card) for card in cards])

    def extra_new(self, pack_id: str, count: int) -> int:
        """Allow `count` more new cards today in `pack_id`; returns the new cards now left today."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"the number of extra new cards must be a whole number >= 1, not {count!r}")
        self._roll_over_if_needed()
        if pack_id not in self._days:
            raise ValueError(f"pack {pack_id!r} is not in this study session")
        self._days[pack_id].new_left += count
        return self.counts(pack_id).new

    def end_custom(self) -> None:
        """Leave custom study: back to the day's own queue."""
        self._custom = None

    @property
    def custom_mode(self) -> str | None:
        """ "ahead", "forgotten" or "cram" while a custom-study queue has cards left, else None."""
        return self._custom.mode if self._custom is not None and self._custom_top() is not None else None

    def custom_left(self) -> int:
        """Cards left in the custom-study queue (a cram card answered Again counts again)."""
        return len(self._custom.queue) if self._custom is not None else 0

    def _start_custom(self, mode: str, keys: list[Key]) -> int:
        """Queue `keys` less the suspended and buried ones (as Anki's filtered decks leave them out)."""
        self._roll_over_if_needed()
        rows = self._store.card_rows({pack_id for pack_id, _ in keys})
        shown = [key for key in keys if not self._hidden(rows.get(key))]
        self._custom = _Custom(mode, deque(shown))
        return len(shown)

    def _in_cram(self, card: Card) -> bool:
        return self._custom is not None and self._custom.cram and self._custom_top() == self._key(card)

    def _custom_top(self) -> Key | None:
        """The first card of the custom queue that is not suspended or buried (hidden ones stay queued,
        so undoing a bury brings them back)."""
        if self._custom is None:
            return None
        for key in self._custom.queue:
            if not self._hidden(self._row(key)):
                return key
        return None

    def _hidden(self, row: CardRow | None) -> bool:
        return row is not None and (row.suspended or (row.buried_until_ms or 0) > to_ms(self._now()))

    def _custom_answered(self, key: Key, again: bool = False) -> tuple[Key, ...] | None:
        """Take an answered card off the custom queue (cram's Again: to its end); returns the queue before."""
        if self._custom is None or key not in self._custom.queue:
            return None
        before = tuple(self._custom.queue)
        self._custom.queue.remove(key)
        if again:
            self._custom.queue.append(key)
        return before

    # -- undo, bury, suspend ---------------------------------------------------------------------

    def can_undo(self) -> bool:
        return bool(self._undo)

    def undo(self) -> Card | None:
        """Take back the last answer, bury or suspend of this session; returns the card to show again."""
        if not self._undo:
            return None
        entry = self._undo.pop()
        key = self._key(entry.card)
        self._roll_over_if_needed()
        restored = [] if entry.cram else [(key, entry.before), *entry.siblings]
        with self._store.transaction() as store:
            if entry.review_id is not None:
                store.delete_review(entry.review_id)
            for each, before in restored:
                if before is None:
                    store.delete_card_row(*each)
                else:
                    store.put_card_row(before)
        if entry.queue is not None and self._custom is not None:
            self._custom.queue = deque(entry.queue)
        if entry.rating is not None:
            self._by_rating[entry.rating] -= 1
            self._spent_ms -= entry.duration_ms
            if (
                not entry.cram and entry.answered_ms >= self._day_start_ms
            ):  # it counted against today's limits
                self._spend_limits(entry.card.pack_id, entry.before, +1)
        for each, before in restored:
            self._replace_row(each, before)
        self._wrote_since_checkpoint = True
        return entry.card

    def bury(self, card: Card) -> None:
        """Hide the card until the next day rollover."""
        self._change_flags(card, lambda row: replace(row, buried_until_ms=self._day_end_ms))

    def suspend(self, card: Card) -> None:
        """Hide the card until it is unsuspended."""
        self._change_flags(card, lambda row: replace(row, suspended=True))

    def unsuspend(self, card: Card) -> None:
        self._change_flags(card, lambda row: replace(row, suspended=False))

    def _change_flags(self, card: Card, change: Callable[[CardRow], CardRow]) -> None:
        key = self._key(card)
        self._roll_over_if_needed()
        with self._store.transaction() as store:
            before = store.card_row(*key)
            after = change(before or CardRow(card.pack_id, card.id, content_hash=card.content_hash))
            store.put_card_row(after)
        self._undo.append(_Undo(card, before, None))
        self._replace_row(key, after)
        self._wrote_since_checkpoint = True

    # -- summary ---------------------------------------------------------------------------------

    def summary(self) -> SessionSummary:
        return SessionSummary(
            reviewed=sum(self._by_rating.values()),
            by_rating=dict(self._by_rating),
            seconds=self._spent_ms / 1000,
            next_due=self.next_due_at(),
        )

    def _key(self, card: Card) -> Key:
        order = self._order.get(card.pack_id)
        if order is None or card.id not in order:
            raise ValueError(f"card {card.id!r} of pack {card.pack_id!r} is not in this study session")
        return (card.pack_id, card.id)


def _sibling_map(packs: Iterable[Pack]) -> dict[Key, tuple[str, ...]]:
    """For each card of a note with several cards (a cloze's c1, c2...), the ids of the others."""
    notes: dict[tuple[str, str], list[str]] = {}
    for pack in packs:
        for card in pack.cards:
            if card.cloze_index is not None:  # a basic card is its note's only card
                notes.setdefault((pack.id, card.note_id), []).append(card.id)
    return {
        (pack_id, card_id): tuple(other for other in ids if other != card_id)
        for (pack_id, _), ids in notes.items()
        if len(ids) > 1
        for card_id in ids
    }


def _check_days(days: int) -> None:
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 365:
        raise ValueError(f"the number of days must be a whole number from 1 to 365, not {days!r}")


def _check_rating(rating: int) -> int:
    try:
        return int(Rating(rating))
    except ValueError:
        raise ValueError(
            f"rating must be 1 (Again), 2 (Hard), 3 (Good) or 4 (Easy), not {rating!r}"
        ) from None


def _fuzzed_days(days: int, seed: str) -> int:
    """Spread review intervals a little (fsrs' fuzz ranges), the same way every time for one card and rep."""
    if days < 2.5:
        return days
    delta = 1.0
    for fuzz in FUZZ_RANGES:
        delta += fuzz["factor"] * max(min(float(days), fuzz["end"]) - fuzz["start"], 0.0)
    low, high = max(2, round(days - delta)), round(days + delta)
    low = min(low, high)
    draw = int.from_bytes(hashlib.blake2b(seed.encode(), digest_size=8).digest(), "big") / 2**64
    return min(low + int(draw * (high - low + 1)), high)


def _due_ms(row: CardRow) -> int:
    """When an answered card is due; only a card never answered has no due time."""
    if row.due_ms is None:
        raise ValueError(f"card {row.card_id!r} of pack {row.pack_id!r} is scheduled but has no due time")
    return row.due_ms


def _review_row(
    card: Card,
    rating: int,
    state_before: int,
    after: CardRow | None,
    now: datetime,
    duration_ms: int,
    kind: int = SCHEDULED,
) -> ReviewRow:
    """The review log's row for one answer; `after` is the card's state once answered (None: a new card
    that cram left new, due now)."""
    return ReviewRow(
        pack_id=card.pack_id,
        card_id=card.id,
        content_hash=card.content_hash,
        rating=rating,
        state_before=state_before,
        state_after=after.state if after else state_before,
        reviewed_at_ms=to_ms(now),
        duration_ms=duration_ms,
        due_after_ms=after.due_ms if after and after.due_ms is not None else to_ms(now),
        stability_after=after.stability if after else None,
        difficulty_after=after.difficulty if after else None,
        kind=kind,
    )
