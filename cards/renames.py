"""Renamed cards keep their history: `was = ["old-id"]` moves it, and a likely rename is pointed out.

Review history is stored under (pack id, card id), so a card whose id changes would start over. A card's
`was` key names its former ids; `apply_renames` moves each one's state and review log to the new id in
one store transaction. Moving is idempotent: afterwards the old id has nothing left to move, and an id
that already has history of its own is never overwritten. `rename_hints` finds the renames nobody
declared: history of an id that left the pack whose content hash equals a card with no history.
"""

from __future__ import annotations

from dataclasses import dataclass

from cards.pack import Pack, Problem
from cards.store import Store


@dataclass(frozen=True)
class Moved:
    pack_id: str
    old: str
    new: str
    reviews: int


def apply_renames(store: Store, pack: Pack) -> list[Moved]:
    """Move the history of every id in the pack's `was` keys to its new id, all in one transaction."""
    if not pack.renames:
        return []
    with store.transaction() as writing:
        moved = [(old, new, writing.move_card_history(pack.id, old, new)) for old, new in pack.renames]
    return [Moved(pack.id, old, new, reviews) for old, new, reviews in moved if reviews]


def rename_hints(store: Store, pack: Pack) -> list[Problem]:
    """One problem per card id with reviews that left the pack while a card with the same content and no
    history appeared: "did you rename it? add was = [...]" (at the new card's line)."""
    rows = store.query("SELECT card_id, content_hash, reps FROM card_state WHERE pack_id = ?", (pack.id,))
    ids = {card.id for card in pack.cards}
    with_history = {card_id for card_id, _, _ in rows}
    newcomers = {card.content_hash: card for card in pack.cards if card.id not in with_history}
    declared = {old for old, _ in pack.renames}
    hints = []
    for card_id, content, reps in rows:
        card = (
            newcomers.pop(content, None) if card_id not in ids and reps and card_id not in declared else None
        )
        if card is None:
            continue
        old_note = card_id.split("#", 1)[0]
        plural = "" if reps == 1 else "s"
        message = (
            f"card `{card_id}` has {reps} review{plural} but is gone; did you rename it to `{card.id}`? "
            f'add `was = ["{old_note}"]` to keep its history'
        )
        hints.append(Problem(card.file, card.line, None, message))
    return sorted(hints, key=lambda hint: hint.line)
