"""Cloze deletions: `{{c1::answer}}` or `{{c1::answer::hint}}` inside a card's front.

A cloze note makes one card per deletion number. On the front of card `cN` the deletions numbered N are
hidden (shown as `[...]` or `[hint]`); every other deletion shows its answer. The back fills them in bold.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple

OPEN = "{{"
CLOSE = "}}"
SEPARATOR = "::"
# `{{c1::...` starts a deletion; `{{c`, `{{ c1:` or `{{C2` are attempts we call malformed. `{{x}}` is plain text.
_ATTEMPT = re.compile(r"\{\{\s*[cC]\s*(?:\d|:)")
_HEAD = re.compile(r"\{\{c([1-9]\d*)::")
EXAMPLE = "{{c1::answer}} or {{c1::answer::hint}}"


# Named tuples, not dataclasses: as immutable and comparable, and cheap enough to define that the study
# screen imports this module at start-up to draw every card's front.
class Deletion(NamedTuple):
    number: int
    answer: str
    hint: str | None
    start: int  # offset of "{{" in the text
    end: int  # offset just past "}}"


class ClozeIssue(NamedTuple):
    offset: int  # where in the text the problem starts
    message: str


if TYPE_CHECKING:
    from typing import Protocol

    class _RenderableCard(Protocol):  # read-only: a Card is a named tuple
        @property
        def type(self) -> str: ...
        @property
        def front(self) -> str: ...
        @property
        def back(self) -> str: ...
        @property
        def cloze_index(self) -> int | None: ...


def parse(text: str) -> tuple[list[Deletion], list[ClozeIssue]]:
    """Every well-formed deletion in `text`, and a message for every malformed one."""
    deletions: list[Deletion] = []
    issues: list[ClozeIssue] = []
    position = 0
    while (attempt := _ATTEMPT.search(text, position)) is not None:
        start = attempt.start()
        deletion, issue, position = _parse_one(text, start)
        if deletion is not None:
            deletions.append(deletion)
        if issue is not None:
            issues.append(issue)
    return deletions, issues


def _parse_one(text: str, start: int) -> tuple[Deletion | None, ClozeIssue | None, int]:
    """Parse the deletion starting at `start`; returns it or an issue, and where to resume scanning."""
    snippet = _snippet(text, start)
    head = _HEAD.match(text, start)
    if head is None:
        message = f"malformed cloze deletion {snippet}: write {EXAMPLE} (c followed by a number from 1)"
        return None, ClozeIssue(start, message), start + len(OPEN)
    close = text.find(CLOSE, head.end())
    body = text[head.end() : close] if close >= 0 else text[head.end() :]
    if close < 0 or OPEN in body:
        message = f"cloze deletion {snippet} is not closed: end it with }}}} (deletions cannot be nested)"
        resume = head.end() + body.find(OPEN) if OPEN in body else len(text)
        return None, ClozeIssue(start, message), resume
    answer, separator, hint = body.partition(SEPARATOR)
    end = close + len(CLOSE)
    if not answer.strip():
        message = f"cloze deletion {snippet} has an empty answer: write {EXAMPLE}"
        return None, ClozeIssue(start, message), end
    if separator and not hint.strip():
        message = f"cloze deletion {snippet} has an empty hint: drop the last '::' or write a hint"
        return None, ClozeIssue(start, message), end
    deletion = Deletion(int(head.group(1)), answer, hint if separator else None, start, end)
    return deletion, None, end


def _snippet(text: str, start: int, width: int = 30) -> str:
    piece = text[start : start + width].split("\n", 1)[0]
    close = piece.find(CLOSE)
    piece = piece[: close + len(CLOSE)] if close >= 0 else piece
    return repr(piece + ("…" if len(text) > start + len(piece) and close < 0 else ""))


def numbers(text: str) -> list[int]:
    """The distinct deletion numbers in `text`, ascending: one card is made per number."""
    deletions, _ = parse(text)
    return sorted({deletion.number for deletion in deletions})


def has_deletion_markers(text: str) -> bool:
    """True when `text` looks like it was meant to hold cloze deletions."""
    return _ATTEMPT.search(text) is not None


def render(text: str, active: int | None, reveal: bool) -> str:
    """Replace every deletion: the active one hidden (or bold when revealed), the others by their answer."""
    deletions, _ = parse(text)
    pieces: list[str] = []
    position = 0
    for deletion in deletions:
        pieces.append(text[position : deletion.start])
        pieces.append(_show(deletion, active, reveal))
        position = deletion.end
    pieces.append(text[position:])
    return "".join(pieces)


def _show(deletion: Deletion, active: int | None, reveal: bool) -> str:
    if deletion.number != active:
        return deletion.answer
    if reveal:
        return f"**{deletion.answer}**"
    # Escaped brackets: a bare "[...]" followed by "(x)" in the card would become a Markdown link.
    return rf"\[{_escape_brackets(deletion.hint)}\]" if deletion.hint else r"\[...\]"


def _escape_brackets(text: str) -> str:
    return re.sub(r"([\[\]])", r"\\\1", text)


def render_front(card: _RenderableCard) -> str:
    """Markdown for the question side."""
    if card.type != "cloze":
        return card.front
    return render(card.front, card.cloze_index, reveal=False)


def render_back(card: _RenderableCard) -> str:
    """Markdown for the answer side: a cloze shows its text filled in, then the optional `back` extra."""
    if card.type != "cloze":
        return card.back
    filled = render(card.front, card.cloze_index, reveal=True)
    return f"{filled}\n\n{card.back}" if card.back.strip() else filled
