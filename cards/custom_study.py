"""Custom study (Anki's): a filtered queue the study session shows before the day's own queue.

Study ahead queues the reviews due in the next N days and forgotten the cards answered Again in the last N
days; both are answered as usual. Cram answers are only logged (kind CRAM) and never move a card's state;
its Again puts the card back at the end of the queue. Suspended and buried cards are left out when a
queue is made, and passed over (but kept, so undoing a bury brings them back) while it is studied. Extra
new cards are not a queue: they raise the day's new-card limit (`StudySession.extra_new`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Container, Mapping

from cards.store import CardRow, Store
from cards.study_day import DAY_MS

Key = tuple[str, str]  # (pack_id, card_id)

CRAM_LABELS = {1: "again", 2: "done", 3: "done", 4: "done"}  # cram: Again shows it later, others end it


def check_days(days: int) -> None:
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 365:
        raise ValueError(f"the number of days must be a whole number from 1 to 365, not {days!r}")


def due_ahead(
    store: Store, studied: Mapping[str, Container[str]], day_end_ms: int, days: int, now_ms: int
) -> list[Key]:
    """The cards due in the `days` days after the day ending at `day_end_ms`, earliest first (study ahead).

    `studied` maps each pack id of the session to its cards; other cards are left out."""
    end_ms = day_end_ms + days * DAY_MS
    found = sorted(
        (due_ms, (pack_id, card_id))
        for pack_id, card_ids in studied.items()
        for card_id, due_ms in store.due_between(pack_id, day_end_ms, end_ms, now_ms)
        if card_id in card_ids
    )
    return [key for _, key in found]


def forgotten(store: Store, studied: Mapping[str, Container[str]], day_end_ms: int, days: int) -> list[Key]:
    """The cards answered Again in the `days` days up to `day_end_ms` (today included), pack by pack."""
    since_ms = day_end_ms - days * DAY_MS
    return [
        (pack_id, card_id)
        for pack_id, card_ids in studied.items()
        for card_id in store.forgotten_since(pack_id, since_ms)
        if card_id in card_ids
    ]


class CustomStudy:
    """The session's custom-study queue: its mode ("ahead", "forgotten" or "cram"; None when there is
    none) and the cards left in it.

    `row` gives a card's current stored state and `now_ms` the time, to pass over hidden cards."""

    def __init__(self, row: Callable[[Key], CardRow | None], now_ms: Callable[[], int]) -> None:
        self._row = row
        self._now_ms = now_ms
        self._mode: str | None = None
        self._queue: deque[Key] = deque()

    def start(self, mode: str, keys: list[Key], rows: Mapping[Key, CardRow]) -> int:
        """Queue `keys` less the suspended and buried ones (as Anki's filtered decks leave them out), by
        their stored `rows`; returns how many are queued."""
        self._mode = mode
        self._queue = deque(key for key in keys if not self._hidden(rows.get(key)))
        return len(self._queue)

    def end(self) -> None:
        self._mode = None
        self._queue = deque()

    @property
    def mode(self) -> str | None:
        """The mode while the queue has cards left to show, else None."""
        return self._mode if self.top() is not None else None

    def left(self) -> int:
        """Cards left in the queue (a cram card answered Again counts again)."""
        return len(self._queue)

    def top(self) -> Key | None:
        """The first card of the queue that is not suspended or buried (hidden ones stay queued, so
        undoing a bury brings them back)."""
        if self._mode is None:
            return None
        for key in self._queue:
            if not self._hidden(self._row(key)):
                return key
        return None

    def is_cram_card(self, key: Key) -> bool:
        """Whether `key` is the card cram shows now (its answer is only logged)."""
        return self._mode == "cram" and self.top() == key

    def answered(self, key: Key, again: bool = False) -> tuple[Key, ...] | None:
        """Take an answered card off the queue (cram's Again: to its end); returns the queue before (None:
        the card was not queued), for undo."""
        if self._mode is None or key not in self._queue:
            return None
        before = tuple(self._queue)
        self._queue.remove(key)
        if again:
            self._queue.append(key)
        return before

    def restore(self, queue: tuple[Key, ...]) -> None:
        """Put back the queue an undone action found (unless custom study was left since)."""
        if self._mode is not None:
            self._queue = deque(queue)

    def _hidden(self, row: CardRow | None) -> bool:
        return row is not None and (row.suspended or (row.buried_until_ms or 0) > self._now_ms())
