"""Card text reaches the screen: raw HTML shows as typed and cloze rendering inserts no Markdown syntax."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from cards import cloze
from tui.widgets.card_markdown import card_blocks, lay_out

# Characters that are never Markdown syntax on their own (`>` starts a quote), so each must be drawn.
# `&` (entities), `:` (autolinks), `[ ]` (links), backticks and `~` (fence info strings) are left out of
# the source alphabet: there Markdown rightly consumes what the author typed.
CHECKED = set("abcxyzABC0123456789<(){}/?,;'\"")
PLAIN = st.text(alphabet="abcxyzAB0123 \n<>()/?,;'\"*_#-+=.!|\\", max_size=40)
PART = st.text(alphabet="abcxyzC0123 <>()/?;'\"*_#-=.!|", min_size=1, max_size=12).filter(str.strip)


@dataclass(frozen=True)
class _Card:
    type: str
    front: str
    back: str
    cloze_index: int | None


def drawn_text(markdown: str) -> str:
    """The characters the study screen draws for `markdown` (its lines, wide enough not to wrap)."""
    return "\n".join(line.plain for line in lay_out(card_blocks(markdown), 1000))


def checked(text: str) -> Counter[str]:
    return Counter(char for char in text if char in CHECKED)


def assert_every_character_drawn(source_visible: str, markdown: str) -> None:
    missing = checked(source_visible) - checked(drawn_text(markdown))
    assert not missing, f"{markdown!r} draws {drawn_text(markdown)!r}: lost {dict(missing)}"


@st.composite
def cloze_notes(draw: st.DrawFn) -> tuple[str, str, str]:
    """A cloze front, what its card c1 shows on the front, and what its back shows (cloze syntax aside)."""
    source, front, back = [], [], []
    for _ in range(draw(st.integers(1, 4))):
        plain = draw(PLAIN)
        number, answer = draw(st.integers(1, 2)), draw(PART)
        hint = draw(st.none() | PART)
        source.append(plain + f"{{{{c{number}::{answer}" + (f"::{hint}" if hint else "") + "}}")
        front.append(plain + ((hint or "") if number == 1 else answer))
        back.append(plain + answer)
    tail = draw(PLAIN)
    return "".join(source) + tail, "".join(front) + tail, "".join(back) + tail


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcxyzAB0123 \n<>()/?,;'\"*_#-+=.!|\\{}", max_size=80))
def test_every_visible_character_of_a_basic_card_is_drawn(text: str) -> None:
    card = _Card("basic", text, text, None)
    assert_every_character_drawn(text, cloze.render_front(card))
    assert_every_character_drawn(text, cloze.render_back(card))


@settings(max_examples=300, deadline=None)
@given(cloze_notes())
def test_every_visible_character_of_a_cloze_card_is_drawn(note: tuple[str, str, str]) -> None:
    source, front, back = note
    card = _Card("cloze", source, "", 1)
    assert_every_character_drawn(front, cloze.render_front(card))
    assert_every_character_drawn(back, cloze.render_back(card))


def test_the_reported_cards_render_in_full() -> None:
    text = "The tokens <unk> and <pad> are special. What is List<int>?"
    assert drawn_text(text) == text
    assert drawn_text("<div>hello</div>") == "<div>hello</div>"
    front = cloze.render_front(_Card("cloze", "{{c1::f}}(x) = x + 1", "", 1))
    assert drawn_text(front) == "[...](x) = x + 1"
