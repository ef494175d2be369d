"""Sibling burying (Anki's `bury_siblings`): answering a card hides the other cards of its note (a cloze's
c1, c2...) until the next study day, so one answer does not give away the next."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from cards.pack import Pack
from cards.store import NEW, REVIEW, CardRow, Store

Key = tuple[str, str]  # (pack_id, card_id)


def sibling_map(packs: Iterable[Pack]) -> dict[Key, tuple[str, ...]]:
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


def bury_siblings(
    store: Store, pack_id: str, sibling_ids: Iterable[str], until_ms: int, content_hash: Callable[[Key], str]
) -> list[tuple[Key, CardRow | None]]:
    """Bury the siblings until `until_ms` (the next day) inside the caller's transaction, passing over those
    suspended, in learning steps (they come back within the day, as Anki does) or buried that long already;
    returns each buried one with its row before. `content_hash` gives a card's, for one never stored."""
    buried = []
    for card_id in sibling_ids:
        sibling = (pack_id, card_id)
        row = store.card_row(*sibling)
        if row is not None and (row.suspended or row.state not in (NEW, REVIEW)):
            continue
        if row is not None and (row.buried_until_ms or 0) >= until_ms:
            continue
        fresh = row or CardRow(*sibling, content_hash=content_hash(sibling))
        store.put_card_row(replace(fresh, buried_until_ms=until_ms))
        buried.append((sibling, row))
    return buried
