"""How a card-browser row reads, the same in the browser screen and in `cardlab cards` (text and --json)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cards.query import CardMatch
from cards.study_day import format_interval

# (column key, heading): the browser's columns, also the sort keys of cards.query.SORT_KEYS.
COLUMNS = (
    ("pack", "Pack"),
    ("card", "Card"),
    ("state", "State"),
    ("due", "Due"),
    ("interval", "Ivl"),
    ("stability", "S"),
    ("difficulty", "D"),
    ("retrievability", "R now"),
    ("reviews", "Reviews"),
    ("lapses", "Lapses"),
    ("flags", "Flags"),
)
NONE = "—"
DONE = {  # what each of cards.card_actions.ACTIONS did, for "suspended: 3 of 3 cards changed"
    "suspend": "suspended",
    "unsuspend": "unsuspended",
    "bury": "buried until tomorrow",
    "unbury": "unburied",
    "reset": "reset to new",
    "due-today": "made due today",
}


def due_text(due_ms: int | None, now: datetime) -> str:
    """ "now", "in 3d", "2d ago": where the due time is from `now`."""
    if due_ms is None:
        return NONE
    delta = datetime.fromtimestamp(due_ms / 1000, UTC) - now
    if abs(delta) < timedelta(minutes=1):
        return "now"
    return f"in {format_interval(delta)}" if delta > timedelta(0) else f"{format_interval(-delta)} ago"


def cells(row: CardMatch, now: datetime) -> dict[str, str]:
    """Every column of `row` as display text (card text is the caller's to neutralise)."""
    interval = row.interval_ms
    return {
        "pack": row.pack_id,
        "card": row.card_id,
        "state": row.state_name,
        "due": due_text(row.due_ms, now),
        "interval": NONE if interval is None else format_interval(timedelta(milliseconds=interval)),
        "stability": NONE if row.stability is None else f"{row.stability:.1f}",
        "difficulty": NONE if row.difficulty is None else f"{row.difficulty:.1f}",
        "retrievability": NONE if row.retrievability is None else f"{row.retrievability:.0%}",
        "reviews": str(row.reviews),
        "lapses": str(row.lapses),
        "flags": " ".join(row.flags),
    }


def short_path(path: Path) -> str:
    """The path with the user's home folder as `~`, as a shell would accept it."""
    try:
        return f"~/{path.relative_to(Path.home())}"
    except (ValueError, RuntimeError):  # elsewhere, or no home folder known
        return str(path)


def _iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def as_json(row: CardMatch) -> dict[str, Any]:
    """The `--json` object of one row (times in UTC ISO 8601, intervals in days)."""
    interval = row.interval_ms
    return {
        "pack": row.pack_id,
        "card": row.card_id,
        "state": row.state_name,
        "due": _iso(row.due_ms),
        "interval_days": None if interval is None else round(interval / 86_400_000, 4),
        "suspended": row.suspended,
        "buried": row.buried,
        "leech": row.leech,
        "edited": row.edited,
        "orphaned": row.orphaned,
        "reviews": row.reviews,
        "lapses": row.lapses,
        "stability": row.stability,
        "difficulty": row.difficulty,
        "retrievability": None if row.retrievability is None else round(row.retrievability, 4),
        "last_review": _iso(row.last_review_ms),
        "file": None if row.card is None else str(row.card.file),
        "line": None if row.card is None else row.card.line,
    }
