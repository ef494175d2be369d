"""A clickable label in the look of Textual's Button, for screens whose keys do the work.

The study screen's answer buttons never take focus (space and enter belong to the screen) and only
need a click. Textual's Button brings a 240-line stylesheet that is parsed and matched before the first
card can paint; this one has a few rules.
"""

from __future__ import annotations

from textual import events
from textual.content import Content
from textual.message import Message
from textual.widgets import Static


class KeyButton(Static):
    DEFAULT_CSS = """
    KeyButton {
        width: auto;
        min-width: 16;
        height: 3;
        padding: 0 1;
        content-align: center middle;
        text-style: bold;
        color: $button-foreground;
        background: $surface;
        border-top: tall $surface-lighten-1;
        border-bottom: tall $surface-darken-1;
        pointer: pointer;
        &:hover {
            border-top: tall $surface;
            background: $surface-darken-1;
        }
        &.-primary {
            color: $button-color-foreground;
            background: $primary;
            border-top: tall $primary-lighten-3;
            border-bottom: tall $primary-darken-3;
            &:hover {
                background: $primary-darken-2;
                border-top: tall $primary;
            }
        }
    }
    """

    class Pressed(Message):
        """The button was clicked."""

        def __init__(self, button: KeyButton) -> None:
            super().__init__()
            self.button = button

        @property
        def control(self) -> KeyButton:
            return self.button

    def __init__(self, label: str, *, id: str | None = None, classes: str = "") -> None:  # noqa: A002
        super().__init__(Content(label), id=id, classes=classes)
        self._label = label

    @property
    def label(self) -> str:
        return self._label

    @label.setter
    def label(self, text: str) -> None:
        self._label = text
        self.update(Content(text))

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.post_message(self.Pressed(self))
