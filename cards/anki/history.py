"""Anki's review log -> cardlab's store, each card's FSRS state rebuilt by replaying its history.

Which rows count follows Anki's own FSRS (rslib, `scheduler/fsrs`): manual changes (set due date,
reschedule: type 4 and 5), rows with ease 0 (no button was pressed) and cram in a filtered deck that
does not reschedule (type 3 with ease factor 0) are not answers, and a Forget (a manual row with
interval 0) starts a card's history afresh. Everything else maps ease -> rating (1 Again .. 4 Easy),
time -> duration (ms) and id -> the review's timestamp (ms).

The replay answers every kept review through `StudySession` on a scratch in-memory store, at the
review's own time: the very code (scheduler, parameters in use, learning steps, fuzz, leeches) that
would have produced the state had the reviews been done in cardlab. A card's whole history is replayed,
the reviews already in the store with the new ones, so importing again adds only new reviews.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from cards.anki.collection import Review
from cards.config import Config
from cards.pack import Pack
from cards.schedule import StudySession
from cards.store import CardRow, ReviewRow, Store
from cards.study_day import day_start, from_ms, study_day, to_ms

MANUAL, RESCHEDULED, FILTERED = 4, 5, 3
SKIP_MANUAL = "manual reschedules (set due date, reschedule, forget)"
SKIP_EASE_0 = "rows with ease 0 (no answer)"
SKIP_CRAM = "cram in a filtered deck that does not reschedule"
SKIP_BEFORE_FORGET = "reviews before a Forget (the card was reset)"
SKIP_NO_CARD = "rows of cards not imported (skipped notes, deleted cards, extra cards of unknown note types)"


@dataclass(frozen=True)
class Answer:
    card_id: str
    at_ms: int
    rating: int
    duration_ms: int


def answers_from_revlog(reviews: Iterable[Review], card_of: dict[int, str], skipped: Counter) -> list[Answer]:
    """The revlog rows of `card_of`'s cards that are answers, as cardlab answers; `skipped` counts the
    others by reason (rows of other cards are ignored: the caller counts those never imported)."""
    by_card: dict[int, list[Review]] = {}
    for review in reviews:
        if review.card_id in card_of:
            by_card.setdefault(review.card_id, []).append(review)
    answers = []
    for anki_id, rows in by_card.items():
        rows.sort(key=lambda row: row.id)
        forgets = [index for index, row in enumerate(rows) if row.kind == MANUAL and row.interval == 0]
        if forgets:
            skipped[SKIP_BEFORE_FORGET] += sum(1 for row in rows[: forgets[-1]] if _is_answer(row))
            rows = rows[forgets[-1] :]
        for row in rows:
            reason = _skip_reason(row)
            if reason:
                skipped[reason] += 1
            else:
                answers.append(Answer(card_of[anki_id], row.id, row.ease, max(0, row.time_ms)))
    return sorted(answers, key=lambda answer: (answer.at_ms, answer.card_id))


def _skip_reason(row: Review) -> str | None:
    if row.kind in (MANUAL, RESCHEDULED):
        return SKIP_MANUAL
    if not 1 <= row.ease <= 4:
        return SKIP_EASE_0
    if row.kind == FILTERED and row.factor == 0:
        return SKIP_CRAM
    return None


def _is_answer(row: Review) -> bool:
    return _skip_reason(row) is None


class _Clock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


def merge_history(
    store: Store,
    pack: Pack,
    answers: Sequence[Answer],
    config: Config,
    now: datetime,
    suspended: Iterable[str] = (),
    buried: Iterable[str] = (),
) -> int:
    """Add the answers not yet in the store, rebuild the touched cards' states, set the Anki flags; one
    transaction. Returns how many reviews were added: each keeps its revlog id (`Answer.at_ms`) as its
    source id, unique per pack in the store, so an import running at the same time adds none twice."""
    existing = store.reviews(pack.id)
    seen = {(review.card_id, review.reviewed_at_ms) for review in existing}
    new = [answer for answer in answers if (answer.card_id, answer.at_ms) not in seen]
    touched = {answer.card_id for answer in new}
    replayed_rows, replayed_log = _replay(pack, existing, new, touched, config)
    stored = store.card_rows([pack.id])
    with store.transaction():
        added = store.add_imported_reviews(
            (review, review.reviewed_at_ms)  # an imported answer's time is its revlog id
            for review in replayed_log
            if (review.card_id, review.reviewed_at_ms) not in seen
        )
        for row in replayed_rows:
            before = stored.get(row.key)
            if before is not None:  # keep what cardlab decided about the card (suspended, leech tag)
                row = replace(
                    row, suspended=row.suspended or before.suspended, tags=_union(before.tags, row.tags)
                )
            store.put_card_row(row)
            stored[row.key] = row
        _set_flags(store, pack, stored, set(suspended), set(buried), config, now)
    return added


def _union(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*first, *second)))


def _replay(
    pack: Pack, existing: Sequence[ReviewRow], new: Sequence[Answer], touched: set[str], config: Config
) -> tuple[list[CardRow], list[ReviewRow]]:
    """Answer the touched cards' whole histories, in time order, on a scratch store."""
    if not touched:
        return [], []
    history = [
        Answer(review.card_id, review.reviewed_at_ms, review.rating, review.duration_ms)
        for review in existing
        if review.card_id in touched
    ]
    history = sorted([*history, *new], key=lambda answer: (answer.at_ms, answer.card_id))
    cards = {card.id: card for card in pack.cards}
    with Store.open(":memory:") as scratch:
        clock = _Clock(from_ms(history[0].at_ms))
        session = StudySession(scratch, [pack], config, clock=clock)
        for answer in history:
            clock.moment = from_ms(answer.at_ms)
            session.answer(cards[answer.card_id], answer.rating, answer.duration_ms)
        return list(scratch.card_rows([pack.id]).values()), scratch.reviews(pack.id)


def _set_flags(
    store: Store,
    pack: Pack,
    stored: dict[tuple[str, str], CardRow],
    suspended: set[str],
    buried: set[str],
    config: Config,
    now: datetime,
) -> None:
    """Suspend and bury what Anki had suspended or buried (never the other way: a card cardlab suspended
    stays so). Buried cards come back at the next day rollover, as in Anki."""
    tz = config.tzinfo()
    next_day = study_day(now, config.rollover_hour, tz) + timedelta(days=1)
    until = to_ms(day_start(next_day, config.rollover_hour, tz))
    hashes = {card.id: card.content_hash for card in pack.cards}
    for card_id in sorted(suspended | buried):
        if card_id not in hashes:
            continue
        row = stored.get((pack.id, card_id)) or CardRow(pack.id, card_id, content_hash=hashes[card_id])
        changed = replace(row, suspended=row.suspended or card_id in suspended)
        if card_id in buried and (row.buried_until_ms or 0) < to_ms(now):
            changed = replace(changed, buried_until_ms=until)
        if changed != row:
            store.put_card_row(changed)
