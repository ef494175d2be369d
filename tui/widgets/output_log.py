"""The lab screen's output pane: a `RichLog` whose lines always fit the pane.

A plain `RichLog` renders each write at least `min_width` (78) cells wide and never again: in a pane
narrower than that, or once its scrollbar appears or the terminal is resized, the ends of wrapped lines
were hidden ("a rando[m] 10% of ratings"). Here the wrap width is the pane's own, the scrollbar's column
is always kept free (`scrollbar-gutter: stable`), and every entry is wrapped again when the pane's width
changes.
"""

from __future__ import annotations

from bisect import bisect_right

from rich.console import RenderableType
from rich.text import Text
from textual.events import Resize
from textual.widgets import RichLog


class OutputLog(RichLog):
    DEFAULT_CSS = """
    OutputLog { scrollbar-gutter: stable; overflow-x: hidden; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(min_width=1, wrap=True, markup=False, highlight=False, id=id, classes=classes)
        self.entries: list[RenderableType] = []  # everything written, to wrap again at a new width
        self._starts: list[int] = []  # each entry's first line at the current width
        self._wrapped_at = 0

    def add(self, renderable: RenderableType) -> int:
        """Write one entry (a `Text`, a `Table`), wrapped to the pane's width; returns its first line."""
        if isinstance(renderable, Text):
            renderable = renderable.copy()
        first_line = len(self.lines)
        self.entries.append(renderable)
        self._starts.append(first_line)
        self.write(renderable, shrink=True)
        return first_line

    def show_from(self, line: int) -> None:
        """Scroll so that `line` is the pane's first: after the writes' own scroll to the end, which waits
        for the next refresh too."""
        self.call_after_refresh(self.scroll_to, y=line, animate=False)

    def clear(self) -> OutputLog:
        self.entries, self._starts = [], []
        super().clear()
        return self

    def on_resize(self, event: Resize) -> None:
        event.prevent_default()  # RichLog's own handler runs here, once, before the new width is used
        super().on_resize(event)
        width = self.scrollable_content_region.width
        if width and width != self._wrapped_at:
            if self.entries:  # the first time too: entries added before the pane had a size start at 0
                self._wrap_again()
            self._wrapped_at = width

    def _wrap_again(self) -> None:
        """Every entry written again at the new width. A pane following the end keeps following it; one
        scrolled back (to a finished run's verdict, say) keeps the entry at its top there."""
        following = self.scroll_y >= self.max_scroll_y
        top_entry = max(bisect_right(self._starts, self.scroll_y) - 1, 0)
        self.lines.clear()
        self._line_cache.clear()
        self._start_line = 0
        self._widest_line_width = 0
        self._starts = []
        for entry in self.entries:
            self._starts.append(len(self.lines))
            self.write(entry, shrink=True, scroll_end=False)
        if following:
            self.scroll_end(animate=False, immediate=False, x_axis=False)
        else:
            self.show_from(self._starts[top_entry])
