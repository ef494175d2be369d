"""Make untrusted text (card content, file names) safe to put on screen.

Card packs are user files: an ANSI escape sequence in a card must not reach the terminal, and Rich or
Textual markup in a card must show as the characters typed. Markup is handled by never parsing card text
as markup (`Content(text)`; card Markdown is parsed with raw HTML as text, see `tui.widgets.card_text`);
control characters are handled here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.content import Content

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

_C0_PICTURES = 0x2400  # U+2400 "␀" ... U+241F: the Unicode pictures of the C0 control characters
_KEPT_CONTROLS = {"\n", "\t"}


def _control_table() -> dict[int, str]:
    table = {code: chr(_C0_PICTURES + code) for code in range(0x20) if chr(code) not in _KEPT_CONTROLS}
    table[0x7F] = "␡"
    # C1 controls: 0x9B alone is a CSI introducer on some terminals.
    table.update({code: "\ufffd" for code in range(0x80, 0xA0)})
    return table


_CONTROL_TABLE = _control_table()


def neutralize_controls(text: str) -> str:
    """Replace control characters (ESC becomes "␛") so nothing can drive the terminal; keeps newlines and tabs."""
    return text.translate(_CONTROL_TABLE)


def literal(text: str) -> Content:
    """Content that shows `text` exactly as typed: no markup, no control characters."""
    return Content(neutralize_controls(text))


def one_line(text: str) -> str:
    """Neutralised text on a single line, for table cells and titles that must not grow."""
    return " ".join(neutralize_controls(text).split())


def card_markdown_parser() -> MarkdownIt:
    """The Markdown parser for card text: raw HTML (`<unk>`, `List<int>`, `<div>`) is literal text.

    markdown-it's default passes HTML through as tokens a renderer would have to drop, so it vanished.
    Imported here, not at the top: a plain-text first card is drawn without it (tui.widgets.card_markdown).
    """
    from markdown_it import MarkdownIt

    return MarkdownIt("gfm-like", {"html": False})
