"""Undo for a study session: what each answer, bury or suspend changed, and taking it back in the store.

Each action of a `StudySession` records an `UndoStep`: the card's stored row before (and its siblings'
rows, when the answer buried them), the review-log row it added, and the custom-study queue before. Undo
writes those rows back in one transaction; the session then puts its counts and queues right.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from cards.pack import Card, Pack
from cards.store import CardRow, Store

Key = tuple[str, str]  # (pack_id, card_id)


@dataclass
class UndoStep:
    """What one answer, bury or suspend changed, to take it back."""

    card: Card
    before: CardRow | None  # the stored row before the action (None: there was none)
    review_id: int | None  # the log row the action added (answers only)
    rating: int | None = None
    duration_ms: int = 0
    answered_ms: int = 0
    cram: bool = False  # a cram answer: only the log row to take back
    siblings: list[tuple[Key, CardRow | None]] = field(default_factory=list)  # buried by the answer
    queue: tuple[Key, ...] | None = None  # the custom-study queue before the action

    def take_back(self, store: Store, key: Key) -> list[tuple[Key, CardRow | None]]:
        """Write back the rows from before the action (`key`: its card's) and drop the log row it added,
        in one transaction; returns each card put back with its row (None: it has no row now)."""
        restored = [] if self.cram else [(key, self.before), *self.siblings]
        with store.transaction() as writing:
            if self.review_id is not None:
                writing.delete_review(self.review_id)
            for each, before in restored:
                if before is None:
                    writing.delete_card_row(*each)
                else:
                    writing.put_card_row(before)
        return restored


class UndoHistory:
    """The session's steps, the last one taken back first."""

    def __init__(self) -> None:
        self._steps: list[UndoStep] = []

    def __bool__(self) -> bool:
        return bool(self._steps)

    def push(self, step: UndoStep) -> None:
        self._steps.append(step)

    def pop(self) -> UndoStep | None:
        return self._steps.pop() if self._steps else None

    def follow_pack(self, pack: Pack, order: Mapping[str, int]) -> None:
        """After `pack` was reloaded (`order`: its card ids' indexes): its steps show the cards' new text,
        and the steps of cards that left it are dropped."""
        self._steps = [
            replace(step, card=pack.cards[order[step.card.id]]) if step.card.pack_id == pack.id else step
            for step in self._steps
            if step.card.pack_id != pack.id or step.card.id in order
        ]
