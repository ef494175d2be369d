"""Asked before a pack's lab runs for the first time (or after its files changed): its code runs as you."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class TrustLab(ModalScreen[bool]):
    """Shows the pack, the lab's folder and every file with its sha256; dismissed with True to trust."""

    DEFAULT_CSS = """
    TrustLab { align: center middle; }
    TrustLab > Vertical { width: 90%; max-width: 110; height: auto; max-height: 90%;
                          border: round $warning; background: $surface; padding: 1 2; }
    TrustLab VerticalScroll { height: auto; max-height: 16; margin-top: 1; }
    TrustLab Horizontal { height: auto; margin-top: 1; }
    TrustLab Button { margin-right: 1; }
    """
    BINDINGS = [
        Binding("t", "choose(True)", "Trust", id="lab.trust.yes"),
        Binding("escape", "choose(False)", "Cancel", id="lab.trust.no"),
    ]

    def __init__(
        self, pack_id: str, lab_folder: Path, files: dict[str, str], skipped: tuple[str, ...] = ()
    ) -> None:
        super().__init__()
        self.pack_id = pack_id
        self.lab_folder = lab_folder
        self.files = files
        self.skipped = skipped  # never copied nor run (bytecode, symlinks leaving the lab folder), with why

    def compose(self) -> ComposeResult:
        # markup=False everywhere: names and paths come from the pack and are shown as written.
        with Vertical():
            yield Label(f"This lab comes with the pack {self.pack_id}.", markup=False)
            yield Label(f"Its code ({self.lab_folder}) runs as you, with your files.", markup=False)
            yield Label(
                "Trust the pack's labs? These files are copied and run as listed; a change asks again."
            )
            with VerticalScroll():
                for path, digest in self.files.items():
                    yield Static(f"{digest[:16]}…  {path}", markup=False, classes="file")
                for path in self.skipped:
                    yield Static(f"not copied, never run: {path}", markup=False, classes="skipped")
            with Horizontal():
                yield Button("t Trust", id="trust", variant="warning")
                yield Button("esc Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "trust")

    def action_choose(self, trust: bool) -> None:
        self.dismiss(trust)
