"""The keys, on `?` from any screen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP_TEXT = """\
[b]Home[/b]
  ↑ ↓        choose a pack
  enter      study the highlighted pack
  b          browse every card (search, unsuspend, reset, history)
  s          statistics
  ctrl+p     command palette (every action by name)
  q          quit

[b]Study[/b]
  space      show the answer (enter works too)
  1 2 3 4    Again · Hard · Good · Easy (buttons show the next interval)
  u          undo the last answer (its review is removed from the log)
  -          bury: hide this card until tomorrow
  s          suspend: never show this card until you unsuspend it (b, then u)
  e          edit the card: $EDITOR at its file and line (else shows where)
  b          the card browser, on this pack
  l          open the card's lab (when it has one)
  escape     back to the packs

[b]Browser[/b]
  /          edit the query (enter runs it): tag:x is:due prop:r<0.8 ...
  ↑ ↓ enter  choose a card · its detail (text, history, chart; e edit, l lab)
  space · a  mark the card · mark every match (again: none)
  o · O      sort by the next column · reverse (or click a heading)
  s u        suspend · unsuspend the marked cards (else the highlighted one)
  b B        bury · unbury
  t          make due today
  r          reset to new (asks first)
  x          delete the history of orphaned cards (asks first)

[b]Anywhere[/b]
  ?          this help
  escape     close a panel
"""


class HelpScreen(ModalScreen[None]):
    """A panel over the current screen listing the keys; any of escape, ? or q closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 76; max-height: 90%; height: auto;
        border: round $accent; background: $surface; padding: 0 2;
    }
    """
    BINDINGS = [
        Binding("escape,question_mark,q", "dismiss", "Close", id="help.close", tooltip="Close the help"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(HELP_TEXT, id="help-text")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).border_title = "Keys"
