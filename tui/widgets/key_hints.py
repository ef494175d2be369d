"""The keys that work right now, on one line at the bottom of a screen.

A light stand-in for Textual's Footer: one widget redrawn when the screen's bindings change, where the
Footer builds a widget per key and recomposes; at start-up that difference is about a fifth of the time
to the first card. The line is worked out when it is drawn, once however many changes came before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from textual.binding import ActiveBinding, Binding
from textual.content import Content
from textual.widget import Widget

if TYPE_CHECKING:
    from textual.screen import Screen


def hints_line(
    bindings: Iterable[ActiveBinding], key_display: Callable[[Binding], str], palette_key: str | None
) -> Content:
    """ "space Show answer  b Bury ..." for the shown, enabled bindings, one entry per action."""
    seen_actions: set[str] = set()
    pieces: list[Content] = []
    for _node, binding, enabled, _tooltip in bindings:
        if not binding.show or not enabled or binding.action in seen_actions:
            continue
        seen_actions.add(binding.action)
        pieces.append(Content.assemble((key_display(binding), "bold $accent"), " ", binding.description))
    if palette_key:
        pieces.append(Content.assemble((palette_key, "bold $accent"), " commands"))
    return Content("  ").join(pieces)


class KeyHints(Widget):
    """The hints line, worked out when it is drawn: a screen refreshes its bindings several times before
    a frame (five before the first card's, each walking every binding), and only the last one shows."""

    DEFAULT_CSS = """
    KeyHints {
        dock: bottom;
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text-muted;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self._line: Content | None = None  # None: to be worked out at the next paint

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        self._line = None
        self.refresh()

    def render(self) -> Content:
        if self._line is None:
            app = self.app
            palette = app.get_key_display(Binding(app.COMMAND_PALETTE_BINDING, "command_palette"))
            self._line = hints_line(
                self.screen.active_bindings.values(),
                app.get_key_display,
                palette if app.ENABLE_COMMAND_PALETTE else None,
            )
        return self._line
