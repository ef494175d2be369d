"""Custom study (Anki's): study ahead, review forgotten cards, extra new cards today, or cram by query.

A modal over the study screen; it only asks. It dismisses with a `CustomChoice` (None: cancelled) and
the study screen applies it to its session.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from tui.widgets.safe_text import one_line

# mode -> (button text, what N counts, the largest N, the default N)
MODES = {
    "ahead": ("Study ahead: reviews due in the next N days", "days", 365, 1),
    "forgotten": ("Review cards forgotten in the last N days", "days", 365, 1),
    "new": ("N extra new cards today", "cards", 9999, 10),
    "cram": ("Cram: cards matching a query, the schedule left unchanged", "", 0, 0),
}


@dataclass(frozen=True)
class CustomChoice:
    mode: str  # a key of MODES
    number: int = 0  # days or cards; unused by cram
    query: str = ""  # cram: the cards of the pack this search matches (cards.query; "": every card)


class CustomStudy(ModalScreen[CustomChoice | None]):
    CSS_PATH = "custom_study.tcss"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="custom.cancel", tooltip="Back without changing anything"),
        Binding("ctrl+s", "start", "Start", id="custom.start", tooltip="Start the chosen custom study"),
    ]

    def __init__(self, pack_title: str) -> None:
        super().__init__()
        self.pack_title = pack_title

    def compose(self) -> ComposeResult:
        with Vertical(id="custom-box"):
            with RadioSet(id="custom-mode"):
                for index, (mode, (text, *_)) in enumerate(MODES.items()):
                    yield RadioButton(text, value=index == 0, id=f"mode-{mode}")
            with Horizontal(id="custom-number-row"):
                yield Label("N", id="custom-number-label")
                yield Input(str(MODES["ahead"][3]), id="custom-number", type="integer")
            yield Input(
                id="custom-query",
                placeholder="query, e.g. tag:collab is:review prop:r<0.9 (empty: every card)",
            )
            yield Static(id="custom-error")
            with Horizontal(id="custom-buttons"):
                yield Button("Start · ctrl+s", id="custom-start", variant="primary")
                yield Button("Cancel · esc", id="custom-cancel")

    def on_mount(self) -> None:
        self.query_one("#custom-box").border_title = f"Custom study · {one_line(self.pack_title)}"
        self._mode_changed()
        self.query_one(RadioSet).focus()

    @property
    def mode(self) -> str:
        pressed = self.query_one(RadioSet).pressed_button
        return (pressed.id or "mode-ahead").removeprefix("mode-") if pressed else "ahead"

    @on(RadioSet.Changed)
    def _mode_changed(self) -> None:
        _, unit, _, default = MODES[self.mode]
        cram = self.mode == "cram"
        self.query_one("#custom-number-row").display = not cram
        self.query_one("#custom-query").display = cram
        self.query_one("#custom-number-label", Label).update(f"N ({unit})")
        self.query_one("#custom-number", Input).value = str(default)
        self.query_one("#custom-error", Static).update("")

    def choice(self) -> CustomChoice | str:
        """The choice on screen, or what is wrong with it."""
        mode = self.mode
        if mode == "cram":
            from cards.query import QueryError, parse_query

            text = self.query_one("#custom-query", Input).value.strip()
            try:
                parse_query(text)
            except QueryError as err:
                return str(err)
            return CustomChoice("cram", query=text)
        _, unit, largest, _ = MODES[mode]
        text = self.query_one("#custom-number", Input).value.strip()
        if not text.isdigit() or not 1 <= int(text) <= largest:
            return f"N must be a whole number of {unit} from 1 to {largest}, not {text!r}"
        return CustomChoice(mode, int(text))

    def action_start(self) -> None:
        choice = self.choice()
        if isinstance(choice, str):
            self.query_one("#custom-error", Static).update(choice)
            return
        self.dismiss(choice)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#custom-start")
    def _start_pressed(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#custom-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()
