"""What the card browser and `cardlab cards ACTION QUERY` do to many cards at once, in one transaction.

Each action changes only the cards it applies to and returns how many changed (suspending a suspended
card changes nothing). The review log is never touched, except by `delete_orphans`, which the user asks
for by name: it removes the stored state and every review of cards that are in no loaded pack.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from cards.config import Config
from cards.fsrs_step import LEECH_TAG
from cards.pack import Pack
from cards.query import forget_index
from cards.store import NEW, Store
from cards.study_day import day_start, study_day, to_ms

Key = tuple[str, str]

_KEY = "pack_id = :pack AND card_id = :card"
_UPDATES = {
    "suspend": f"UPDATE card_state SET suspended = 1 WHERE {_KEY} AND suspended = 0",
    "unsuspend": f"UPDATE card_state SET suspended = 0 WHERE {_KEY} AND suspended != 0",
    "bury": f"UPDATE card_state SET buried_until_ms = :day_end WHERE {_KEY} AND coalesce(buried_until_ms, 0) <= :now",
    "unbury": f"UPDATE card_state SET buried_until_ms = NULL WHERE {_KEY} AND buried_until_ms > :now",
    # Forget the schedule (the card is new again); the review log keeps its history.
    "reset": f"""UPDATE card_state SET state = {NEW}, step = NULL, stability = NULL, difficulty = NULL,
        due_ms = NULL, last_review_ms = NULL, reps = 0, lapses = 0,
        tags = trim(replace(' ' || tags || ' ', ' {LEECH_TAG} ', ' '))
        WHERE {_KEY} AND (state != {NEW} OR reps > 0 OR lapses > 0 OR instr(' ' || tags || ' ', ' {LEECH_TAG} '))""",
    # A seen card not due yet today becomes due now; new cards are available anyway.
    "due-today": f"UPDATE card_state SET due_ms = :now WHERE {_KEY} AND state != {NEW} AND due_ms >= :day_end",
}
ACTIONS = tuple(_UPDATES)
_NEEDS_ROW = {"suspend", "bury"}  # a never-answered card gets a state row to carry the flag


class UnknownAction(ValueError):
    pass


def apply_action(
    store: Store,
    packs: Sequence[Pack],
    keys: Iterable[Key],
    action: str,
    now: datetime,
    config: Config | None = None,
) -> int:
    """Apply `action` (one of ACTIONS) to the cards `keys`; returns how many changed."""
    if action not in _UPDATES:
        raise UnknownAction(f"unknown action {action!r}; use {', '.join(ACTIONS)}")
    config = config or Config()
    tz = config.tzinfo()
    today = study_day(now, config.rollover_hour, tz)
    times = {
        "now": to_ms(now),
        "day_end": to_ms(day_start(today + timedelta(days=1), config.rollover_hour, tz)),
    }
    keys = list(dict.fromkeys(keys))
    with store.transaction():
        if action in _NEEDS_ROW:
            hashes = {(pack.id, card.id): card.content_hash for pack in packs for card in pack.cards}
            store.execute_many(
                f"INSERT OR IGNORE INTO card_state (pack_id, card_id, content_hash, state) VALUES (?, ?, ?, {NEW})",
                (
                    (pack_id, card_id, hashes[(pack_id, card_id)])
                    for pack_id, card_id in keys
                    if (pack_id, card_id) in hashes
                ),
            )
        return store.execute_many(
            _UPDATES[action], ({"pack": pack_id, "card": card_id, **times} for pack_id, card_id in keys)
        )


def delete_orphans(store: Store, packs: Sequence[Pack], keys: Iterable[Key]) -> tuple[int, int]:
    """Delete the state and every review of the given orphaned cards; returns (states, reviews) deleted.

    Keys of cards that are in a loaded pack are skipped, so a card's history is never lost this way."""
    loaded = {(pack.id, card.id) for pack in packs for card in pack.cards}
    orphans = [key for key in dict.fromkeys(keys) if key not in loaded]
    with store.transaction():
        states = store.execute_many(f"DELETE FROM card_state WHERE {_KEY}", _named(orphans))
        reviews = store.execute_many(f"DELETE FROM review_log WHERE {_KEY}", _named(orphans))
    forget_index(store)  # its orphan rows are gone
    return states, reviews


def _named(keys: list[Key]) -> list[dict[str, str]]:
    return [{"pack": pack_id, "card": card_id} for pack_id, card_id in keys]
