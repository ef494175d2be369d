"""One FSRS step: a card's next stored state for an answer, and what each rating would give.

py-fsrs computes the state, stability, difficulty and due time. cardlab adds the rest of the step: review
intervals fuzzed deterministically (the same way every time for one card and rep, so a preview matches
the answer), lapses, leeches (suspended and tagged `leech`) and the review log's row for each answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import IntEnum
from typing import TYPE_CHECKING

from cards.config import Config
from cards.pack import Card
from cards.store import NEW, REVIEW, SCHEDULED, CardRow, ReviewRow
from cards.study_day import from_ms, to_ms

if TYPE_CHECKING:
    import fsrs  # imported where a step needs it, not at start-up (see StudySession._scheduler)

LEECH_TAG = "leech"


class Rating(IntEnum):
    Again = 1
    Hard = 2
    Good = 3
    Easy = 4


def check_rating(rating: int) -> int:
    try:
        return int(Rating(rating))
    except ValueError:
        raise ValueError(
            f"rating must be 1 (Again), 2 (Hard), 3 (Good) or 4 (Easy), not {rating!r}"
        ) from None


def make_scheduler(config: Config) -> fsrs.Scheduler:
    """py-fsrs with the configured parameters, retention and steps (its own fuzz off: see `fuzzed_days`)."""
    import fsrs
    from fsrs.scheduler import DEFAULT_PARAMETERS

    return fsrs.Scheduler(
        parameters=config.fsrs_parameters or DEFAULT_PARAMETERS,
        desired_retention=config.desired_retention,
        learning_steps=tuple(timedelta(minutes=m) for m in config.learning_steps_min),
        relearning_steps=tuple(timedelta(minutes=m) for m in config.relearning_steps_min),
        enable_fuzzing=False,  # the app fuzzes deterministically, so previews match answers
    )


def next_row(
    scheduler: fsrs.Scheduler, config: Config, card: Card, row: CardRow | None, rating: int, now: datetime
) -> CardRow:
    """The card's state after answering `rating` at `now` (fsrs, plus lapses, leeches and fuzz)."""
    import fsrs

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
    result, _ = scheduler.review_card(scheduled, fsrs.Rating(rating), review_datetime=now)
    reps = row.reps if row else 0
    due = result.due
    if result.state == fsrs.State.Review:
        days = fuzzed_days((due - now).days, f"{card.pack_id}\0{card.id}\0{reps}")
        due = now + timedelta(days=days)
    lapses = row.lapses if row else 0
    suspended = row.suspended if row else False
    tags = row.tags if row else ()
    if row is not None and row.state == REVIEW and rating == Rating.Again:
        lapses += 1
        if is_leech(lapses, config.leech_lapses):
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


def preview_intervals(
    scheduler: fsrs.Scheduler, config: Config, card: Card, row: CardRow | None, now_ms: int
) -> dict[int, timedelta]:
    """For each rating, how long until the card would come back when answered at `now_ms`.

    Whole milliseconds on both sides, as stored: a `now` with a sub-millisecond part would otherwise
    make a 60 s step read 59.9996 s ("<1m") on one card and 60.0004 s ("1m") on the next."""
    now = from_ms(now_ms)
    return {
        int(rating): timedelta(
            milliseconds=due_ms(next_row(scheduler, config, card, row, rating, now)) - now_ms
        )
        for rating in Rating
    }


def is_leech(lapses: int, threshold: int) -> bool:
    """A leech at the threshold, then again every half threshold (as Anki does)."""
    return lapses >= threshold and (lapses - threshold) % max(1, threshold // 2) == 0


def made_leech(before: CardRow | None, after: CardRow, config: Config) -> bool:
    """Whether the answer that turned `before` into `after` made the card a leech."""
    return after.lapses > (before.lapses if before else 0) and is_leech(after.lapses, config.leech_lapses)


def fuzzed_days(days: int, seed: str) -> int:
    """Spread review intervals a little (fsrs' fuzz ranges), the same way every time for one card and rep."""
    import hashlib

    from fsrs.scheduler import FUZZ_RANGES

    if days < 2.5:
        return days
    delta = 1.0
    for fuzz in FUZZ_RANGES:
        delta += fuzz["factor"] * max(min(float(days), fuzz["end"]) - fuzz["start"], 0.0)
    low, high = max(2, round(days - delta)), round(days + delta)
    low = min(low, high)
    draw = int.from_bytes(hashlib.blake2b(seed.encode(), digest_size=8).digest(), "big") / 2**64
    return min(low + int(draw * (high - low + 1)), high)


def due_ms(row: CardRow) -> int:
    """When an answered card is due; only a card never answered has no due time."""
    if row.due_ms is None:
        raise ValueError(f"card {row.card_id!r} of pack {row.pack_id!r} is scheduled but has no due time")
    return row.due_ms


def review_row(
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
