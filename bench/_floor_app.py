"""The floor of the start-up benchmarks: the smallest Textual app that shows one line of text.

    python bench/_floor_app.py STAMP_FILE            # bench/study_startup.py: writes the wall-clock time
                                                     # once its line is painted, then exits
    python bench/_floor_app.py --text TEXT           # bench/startup_pty.py: shows TEXT until it is ended

The stamp is the moment the cardlab app reports for its first card (after the refresh that follows
Textual's Ready, once the first frame is written); `startup_pty.py` instead watches the terminal for the
text. What cardlab adds on top of this
is what its own start-up costs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from textual.app import App, ComposeResult
from textual.widgets import Static

DEFAULT_TEXT = "What is an embedding?"


class Floor(App[None]):
    def __init__(self, text: str, stamp: Path | None) -> None:
        super().__init__()
        self.text = text
        self.stamp = stamp

    def compose(self) -> ComposeResult:
        yield Static(self.text, markup=False)

    def on_ready(self) -> None:
        if self.stamp is not None:  # as the cardlab app does: once the first frame is out
            self.call_after_refresh(self._painted)

    def _painted(self) -> None:
        assert self.stamp is not None
        self.stamp.write_text(repr(time.time()))
        self.exit()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--text"]:
        Floor(sys.argv[2], None).run()
    else:
        Floor(DEFAULT_TEXT, Path(sys.argv[1])).run()
