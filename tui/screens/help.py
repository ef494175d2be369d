"""The keys of the screen you are on, on `?`: read from its live bindings, so the list cannot go stale."""

from __future__ import annotations

from dataclasses import dataclass, replace

from textual.actions import parse
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

ANYWHERE = "Anywhere"


@dataclass(frozen=True)
class KeyLine:
    keys: str  # "space / enter"
    description: str
    tooltip: str
    group: str  # the screen's name, or ANYWHERE for the app's own keys
    enabled: bool = True  # False: the key does nothing at this moment (e.g. grades before the answer)


def screen_keys(screen: Screen) -> list[KeyLine]:
    """The keys of `screen`, then the app's: every binding with a description, one line per action in
    binding order, leaving out those the screen hides right now (its `check_action` says False). Keys the
    footer leaves out for room (`show=False`) are listed too: here is where they are found.

    Read from the classes' BINDINGS rather than `active_bindings`, where a focused widget's key (the
    home table's enter) hides the screen's binding of the same key."""
    app = screen.app
    lines: dict[tuple[str, str], KeyLine] = {}
    for node, group in ((screen, screen_name(screen)), (app, ANYWHERE)):
        for binding in Binding.make_bindings(node.BINDINGS):
            available = _available(node, binding)
            if not binding.description or available is False:
                continue
            key = (group, binding.action)
            shown = app.get_key_display(binding)
            if key in lines:
                lines[key] = replace(lines[key], keys=f"{lines[key].keys} / {shown}")
            else:
                lines[key] = KeyLine(shown, binding.description, binding.tooltip, group, available is True)
    if app.ENABLE_COMMAND_PALETTE:
        palette = app.get_key_display(Binding(app.COMMAND_PALETTE_BINDING, "command_palette"))
        lines[(ANYWHERE, "command_palette")] = KeyLine(
            palette, "Commands", "every action by name: study, custom study, settings, labs", ANYWHERE
        )
    return list(lines.values())


def _available(node: DOMNode, binding: Binding) -> bool | None:
    """What the node's `check_action` says of the binding (True: works now, None: shown disabled)."""
    destination, name, parameters = parse(binding.action)
    target = node.app if destination == "app" else node
    return target.check_action(name, parameters)


def screen_name(screen: Screen) -> str:
    """ "Study" for StudyScreen, "Custom study" for CustomStudy: the heading of the screen's keys."""
    title = getattr(screen, "HELP_TITLE", None)
    if title:
        return title
    words = type(screen).__name__.removesuffix("Screen")
    spaced = "".join(f" {c.lower()}" if c.isupper() else c for c in words).strip()
    return spaced[:1].upper() + spaced[1:] or "This screen"


def keys_text(lines: list[KeyLine]) -> Content:
    width = max((len(line.keys) for line in lines), default=0) + 2
    pieces: list[Content | str | tuple[str, str]] = []
    group = None
    for line in lines:
        if line.group != group:
            if group is not None:
                pieces.append("\n")
            pieces += [(line.group, "bold"), "\n"]
            group = line.group
        style = "bold $accent" if line.enabled else "$text-muted"
        pieces += ["  ", (line.keys.ljust(width), style), line.description]
        if line.tooltip:
            pieces.append((f" · {line.tooltip}", "dim"))
        if not line.enabled:
            pieces.append((" (not now)", "dim italic"))
        pieces.append("\n")
    return Content.assemble(*pieces)


class HelpScreen(ModalScreen[None]):
    """A panel over the current screen listing its keys; any of escape, ? or q closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90; max-width: 95%; max-height: 90%; height: auto;
        border: round $accent; background: $surface; padding: 0 2;
    }
    """
    BINDINGS = [
        Binding("escape,question_mark,q", "dismiss", "Close", id="help.close", tooltip="Close the help"),
    ]

    def __init__(self, lines: list[KeyLine], title: str) -> None:
        super().__init__()
        self.lines = lines
        self.title_text = title

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(keys_text(self.lines), id="help-text")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).border_title = f"Keys · {self.title_text}"
