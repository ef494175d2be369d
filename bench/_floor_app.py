"""The floor of `bench/study_startup.py`: the smallest Textual app that paints one line.

Run as `python bench/_floor_app.py STAMP_FILE`: it writes the wall-clock time once its line is on screen
(the same moment the cardlab app reports for its first card: after the refresh that follows mounting),
then exits. What cardlab adds on top of this is what its own start-up costs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from textual.app import App, ComposeResult
from textual.widgets import Static


class Floor(App[None]):
    def __init__(self, stamp: Path) -> None:
        super().__init__()
        self.stamp = stamp

    def compose(self) -> ComposeResult:
        yield Static("What is an embedding?")

    def on_mount(self) -> None:
        self.call_after_refresh(self._painted)

    def _painted(self) -> None:
        self.stamp.write_text(repr(time.time()))
        self.exit()


if __name__ == "__main__":
    Floor(Path(sys.argv[1])).run()
