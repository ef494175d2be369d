"""One side of a card, drawn from its Markdown by a single widget (see `card_markdown` for why)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.content import Content
from textual.visual import Visual
from textual.widgets import Static

from tui.widgets.card_markdown import Block, card_blocks, lay_out
from tui.widgets.safe_text import neutralize_controls

if TYPE_CHECKING:
    from textual.css.styles import RulesMap
    from textual.strip import Strip
    from textual.style import Style
    from textual.visual import RenderOptions


class CardVisual(Visual):
    """Card blocks laid out for whatever width the widget gets (the last layout is kept)."""

    def __init__(self, blocks: tuple[Block, ...]) -> None:
        self.blocks = blocks
        self._laid_out: tuple[int, list[Content]] = (-1, [])

    def lines(self, width: int) -> list[Content]:
        if self._laid_out[0] != width:
            self._laid_out = (width, lay_out(self.blocks, width))
        return self._laid_out[1]

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        return max((line.cell_length for line in self.lines(container_width)), default=0)

    def get_height(self, rules: RulesMap, width: int) -> int:
        return len(self.lines(width))

    def render_strips(
        self, width: int, height: int | None, style: Style, options: RenderOptions
    ) -> list[Strip]:
        return Content("\n").join(self.lines(width)).render_strips(width, height, style, options)


class CardText(Static):
    """Card Markdown (`source`): paragraphs, lists, code, quotes and tables in one widget."""

    DEFAULT_CSS = """
    CardText {
        height: auto;
    }
    """

    def __init__(self, markdown: str = "", *, id: str | None = None) -> None:  # noqa: A002 (Textual's name)
        super().__init__(id=id)
        self.source = ""
        self.show(markdown)

    def show(self, markdown: str) -> None:
        """Draw `markdown` from a pack; its control characters are drawn as symbols (safe_text)."""
        self.source = neutralize_controls(markdown)
        self.update(CardVisual(card_blocks(self.source)))

    def action_link(self, href: str) -> None:
        """A link in the card was clicked."""
        self.app.open_url(href)
