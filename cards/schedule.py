"""Today's study queue: what to study now across packs, and answering it.

fsrs decides each card's next state and due time (`cards.fsrs_step`). The session owns the rest: the
study day (`cards.study_day`: it begins at a local rollover hour, DST-safe; everything stored is UTC), the
daily limits on new cards and reviews (per pack), learning cards coming back within the day, bury,
suspend and undo (`cards.session_undo`).

Queue order: a custom-study queue while it has cards left (`cards.custom_study`), then learning cards due
now, then reviews due today (earliest first), then new cards in pack file order; when nothing else is
left, learning cards due within the next 20 minutes are shown early. Answering a card buries its
siblings (`cards.siblings`) until the next day when `bury_siblings` is on.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, NamedTuple

from cards import custom_study, fsrs_step
from cards.config import Config
from cards.custom_study import CRAM_LABELS, CustomStudy
from cards.fsrs_step import Rating
from cards.pack import Card, Pack
from cards.session_undo import UndoHistory, UndoStep
from cards.siblings import bury_siblings, sibling_map
from cards.store import CRAM, NEW, REVIEW, CardRow, Store
from cards.study_day import as_utc, day_start, format_interval, from_ms, study_day, to_ms, utc_now

if TYPE_CHECKING:
    import fsrs

LEARN_AHEAD = timedelta(minutes=20)
CHECKPOINT_EVERY = 500  # answers between the store's WAL checkpoints while studying

Key = tuple[str, str]  # (pack_id, card_id)


# Counts and SessionSummary are named tuples: immutable records, far cheaper to define than dataclasses
# (this module is imported on the way to the first card).
class Counts(NamedTuple):
    """What is left to study today."""

    new: int
    learning: int
    review: int

    @property
    def total(self) -> int:
        return self.new + self.learning + self.review


class SessionSummary(NamedTuple):
    """The session's answers: the scheduled ones (which moved cards) apart from cram's (only logged)."""

    reviewed: int  # scheduled answers
    by_rating: dict[int, int]  # rating -> scheduled answers
    seconds: float  # time spent on the scheduled answers (sum of the recorded durations)
    next_due: datetime | None
    crammed: int = 0  # cram answers (a card answered Again in cram counts each time)
    cram_seconds: float = 0.0  # time spent on them


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
        self._packs_by_id = {pack.id: pack for pack in self.packs}
        self._order = {
            pack.id: {card.id: index for index, card in enumerate(pack.cards)} for pack in self.packs
        }
        self._siblings = sibling_map(self.packs)
        self._custom = CustomStudy(self._row, lambda: to_ms(self._now()))
        self._undo = UndoHistory()
        self._by_rating = dict.fromkeys(map(int, Rating), 0)
        self._spent_ms = 0
        self._crammed = 0
        self._cram_ms = 0
        self._wrote_since_checkpoint = False
        self._load()

    @cached_property
    def _scheduler(self) -> fsrs.Scheduler:
        """py-fsrs' scheduler, made at the first preview or answer: importing py-fsrs (and the json it
        loads) and making it took ~4 ms of the app's start-up, and the first card shows before any of it
        is needed."""
        return fsrs_step.make_scheduler(self.config)

    # -- loading the day -------------------------------------------------------------------------

    def _now(self) -> datetime:
        return as_utc(self._clock())

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
        self._undo.follow_pack(pack, order)

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
            heapq.heappush(self._learning, (fsrs_step.due_ms(row), row.key))
        elif category == "review":
            heapq.heappush(self._days[row.pack_id].reviews, (fsrs_step.due_ms(row), row.card_id))

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
        custom = self._custom.top()
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
        """For each rating, how long until the card would come back (whole milliseconds, as stored)."""
        now_ms = to_ms(self._now())
        row = self._row(self._key(card))
        return fsrs_step.preview_intervals(self._scheduler, self.config, card, row, now_ms)

    def preview_labels(self, card: Card) -> dict[int, str]:
        """The text of each grade button: the interval it gives, or what cram does with the card."""
        if self._custom.is_cram_card(self._key(card)):
            return dict(CRAM_LABELS)
        return {rating: format_interval(delta) for rating, delta in self.preview_intervals(card).items()}

    def answer(self, card: Card, rating: int, duration_ms: int) -> bool:
        """Grade `card`; the new state and the log row are committed in one transaction before returning.

        Returns True when this answer made the card a leech (suspended and tagged `leech`), for a notice."""
        rating = fsrs_step.check_rating(rating)
        if isinstance(duration_ms, bool) or not isinstance(duration_ms, int) or duration_ms < 0:
            raise ValueError(f"duration_ms must be a whole number of milliseconds >= 0, not {duration_ms!r}")
        key = self._key(card)
        now = from_ms(to_ms(self._roll_over_if_needed()))  # whole ms, as stored and as previewed
        if self._custom.is_cram_card(key):
            self._answer_cram(card, rating, duration_ms, now)
            return False  # cram never changes lapses or flags
        with self._store.transaction() as store:
            before = store.card_row(*key)  # the stored state: another cardlab may have answered it meanwhile
            after = fsrs_step.next_row(self._scheduler, self.config, card, before, rating, now)
            store.put_card_row(after)
            siblings = self._bury_siblings(store, key)
            review_id = store.add_review(
                fsrs_step.review_row(card, rating, before.state if before else NEW, after, now, duration_ms)
            )
        queue = self._custom.answered(key)
        undo = UndoStep(
            card, before, review_id, rating, duration_ms, to_ms(now), siblings=siblings, queue=queue
        )
        self._undo.push(undo)
        self._spend_limits(card.pack_id, before, -1)
        self._replace_row(key, after)
        for sibling, _ in siblings:
            self._replace_row(sibling, self._store.card_row(*sibling))
        self._answered(rating, duration_ms)
        return fsrs_step.made_leech(before, after, self.config)

    def _answered(self, rating: int, duration_ms: int, cram: bool = False) -> None:
        if cram:
            self._crammed += 1
            self._cram_ms += duration_ms
        else:
            self._by_rating[rating] += 1
            self._spent_ms += duration_ms
        self._wrote_since_checkpoint = True
        if (sum(self._by_rating.values()) + self._crammed) % CHECKPOINT_EVERY == 0:
            self._store.checkpoint()

    def _bury_siblings(self, store: Store, key: Key) -> list[tuple[Key, CardRow | None]]:
        """Bury the other cards of `key`'s note until the next day (`bury_siblings` on); returns each
        buried one with its row before."""
        if not self.config.bury_siblings:
            return []
        siblings = self._siblings.get(key, ())
        return bury_siblings(
            store, key[0], siblings, self._day_end_ms, lambda each: self._card(each).content_hash
        )

    def _answer_cram(self, card: Card, rating: int, duration_ms: int, now: datetime) -> None:
        """Log the answer as cram; the card's state and due date stay as they are."""
        key = self._key(card)
        row = self._row(key)
        state = row.state if row else NEW
        with self._store.transaction() as store:
            # The state after is the state before: cram leaves the schedule as it was.
            review_id = store.add_review(
                fsrs_step.review_row(card, rating, state, row, now, duration_ms, kind=CRAM)
            )
        queue = self._custom.answered(key, again=rating == Rating.Again)
        self._undo.push(
            UndoStep(card, row, review_id, rating, duration_ms, to_ms(now), cram=True, queue=queue)
        )
        self._answered(rating, duration_ms, cram=True)

    def _spend_limits(self, pack_id: str, before: CardRow | None, sign: int) -> None:
        day = self._days[pack_id]
        state = before.state if before else NEW
        if state == NEW:
            day.new_left += sign
        elif state == REVIEW:
            day.reviews_left += sign

    # -- custom study ----------------------------------------------------------------------------

    def study_ahead(self, days: int) -> int:
        """Queue the reviews due in the next `days` days after today, earliest first; returns how many.
        They are answered as usual (fsrs schedules an early review from its real elapsed time)."""
        custom_study.check_days(days)
        keys = custom_study.due_ahead(self._store, self._order, self._day_end_ms, days, to_ms(self._now()))
        return self._start_custom("ahead", keys)

    def review_forgotten(self, days: int) -> int:
        """Queue the cards answered Again in the last `days` days (today included); returns how many."""
        custom_study.check_days(days)
        keys = custom_study.forgotten(self._store, self._order, self._day_end_ms, days)
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
        self._custom.end()

    @property
    def custom_mode(self) -> str | None:
        """ "ahead", "forgotten" or "cram" while a custom-study queue has cards left, else None."""
        return self._custom.mode

    def custom_left(self) -> int:
        """Cards left in the custom-study queue (a cram card answered Again counts again)."""
        return self._custom.left()

    def _start_custom(self, mode: str, keys: list[Key]) -> int:
        self._roll_over_if_needed()
        return self._custom.start(mode, keys, self._store.card_rows({pack_id for pack_id, _ in keys}))

    # -- undo, bury, suspend ---------------------------------------------------------------------

    def can_undo(self) -> bool:
        return bool(self._undo)

    def undo(self) -> Card | None:
        """Take back the last answer, bury or suspend of this session; returns the card to show again."""
        step = self._undo.pop()
        if step is None:
            return None
        key = self._key(step.card)
        self._roll_over_if_needed()
        restored = step.take_back(self._store, key)
        if step.queue is not None:
            self._custom.restore(step.queue)
        if step.rating is not None and step.cram:
            self._crammed -= 1
            self._cram_ms -= step.duration_ms
        elif step.rating is not None:
            self._by_rating[step.rating] -= 1
            self._spent_ms -= step.duration_ms
            if step.answered_ms >= self._day_start_ms:  # it counted against today's limits
                self._spend_limits(step.card.pack_id, step.before, +1)
        for each, before in restored:
            self._replace_row(each, before)
        self._wrote_since_checkpoint = True
        return step.card

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
        self._undo.push(UndoStep(card, before, None))
        self._replace_row(key, after)
        self._wrote_since_checkpoint = True

    # -- summary ---------------------------------------------------------------------------------

    def summary(self) -> SessionSummary:
        return SessionSummary(
            reviewed=sum(self._by_rating.values()),
            by_rating=dict(self._by_rating),
            seconds=self._spent_ms / 1000,
            next_due=self.next_due_at(),
            crammed=self._crammed,
            cram_seconds=self._cram_ms / 1000,
        )

    def _key(self, card: Card) -> Key:
        order = self._order.get(card.pack_id)
        if order is None or card.id not in order:
            raise ValueError(f"card {card.id!r} of pack {card.pack_id!r} is not in this study session")
        return (card.pack_id, card.id)
