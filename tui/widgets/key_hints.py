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
    bindings: Iterable[ActiveBinding],
    key_display: Callable[[Binding], str],
    palette_key: str | None,
    width: int | None = None,
    app_node: object = None,
) -> Content:
    """ "space Show answer  b Bury ..." for the shown, enabled bindings, one entry per action.

    Wider than `width`, the palette goes first, then the screen's last keys, with "…" where they were:
    the app's own keys (`app_node`'s: "? Keys", which lists every key) stay. Cut at the edge instead, the
    study screen's line lost "esc Packs" and "? Keys" at 80 columns."""
    seen_actions: set[str] = set()
    screen_keys: list[Content] = []
    app_keys: list[Content] = []
    for node, binding, enabled, _tooltip in bindings:
        if not binding.show or not enabled or binding.action in seen_actions:
            continue
        seen_actions.add(binding.action)
        piece = Content.assemble((key_display(binding), "bold $accent"), " ", binding.description)
        (app_keys if app_node is not None and node is app_node else screen_keys).append(piece)
    palette = [Content.assemble((palette_key, "bold $accent"), " commands")] if palette_key else []
    line = _joined(screen_keys + app_keys + palette)
    if width is None or line.cell_length <= width:
        return line
    line = _joined(screen_keys + app_keys)
    while screen_keys and line.cell_length > width:
        screen_keys.pop()
        line = _joined([*screen_keys, Content("…"), *app_keys])
    return line


def _joined(pieces: list[Content]) -> Content:
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
        self._work_out_again()

    def on_resize(self) -> None:
        self._work_out_again()  # the keys that fit change with the width

    def _work_out_again(self) -> None:
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
                width=self.content_size.width or None,
                app_node=app,
            )
        return self._line
