"""A yes/no question before something that cannot be taken back (reset cards, delete orphaned history)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label


class Confirm(ModalScreen[bool]):
    """Dismissed with True on `y` (or the Yes button), False on `n` or escape."""

    CSS_PATH = "confirm.tcss"
    BINDINGS = [
        Binding("y", "choose(True)", "Yes", id="confirm.yes", tooltip="Do it"),
        Binding("n,escape", "choose(False)", "No", id="confirm.no", tooltip="Leave everything as it is"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question, markup=False, id="question")
            with Horizontal():
                yield Button("y Yes", id="yes", variant="error")
                yield Button("n No", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_choose(self, yes: bool) -> None:
        self.dismiss(yes)
