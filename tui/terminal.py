"""The app's terminal driver on Linux and macOS: Textual's, made safe for a terminal that closes under it.

Closing the terminal (its window, an ssh connection, `tmux kill-server`) hangs the tty up and sends the app
SIGHUP and SIGCONT. With Textual's own driver the app then often never ended (15 apps of 15 kept running,
the review store open, when the terminal closed just after a card was suspended):
- its SIGCONT handler resumed application mode as after Ctrl+Z, and started a second output thread;
- an output thread dies on its first write to the hung-up tty (EIO); once its queue of 30 writes is full,
  the app's next write waits forever, and the app never reaches its exit.

This driver drops its output once the terminal is gone and resumes only a terminal that is still there, so
SIGHUP ends the app as `q` does (see `CardlabApp._handle_ending_signals`).
"""

from __future__ import annotations

import termios
from typing import Any, TextIO, cast

from textual.drivers.linux_driver import LinuxDriver


class HangupSafeDriver(LinuxDriver):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self._file is not None:  # the file the output thread writes to (stderr)
            self._file = cast(Any, OutputUntilHangup(self._file))

    def _sigcont_application(self, *args: Any) -> None:
        if terminal_attached(self.fileno):  # a SIGCONT of a closed terminal has nothing to resume
            super()._sigcont_application(*args)


class OutputUntilHangup:
    """A terminal's output file whose writes stop, silently, after the first one the terminal refuses."""

    def __init__(self, file: TextIO) -> None:
        self._file = file
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self._file.write(text)
            except OSError:  # EIO: the terminal hung up
                self.gone = True
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._file.flush()
            except OSError:
                self.gone = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)  # fileno, isatty, encoding...


def terminal_attached(fd: int) -> bool:
    """True while `fd` is a terminal that has not hung up (a hung-up tty refuses every ioctl with EIO)."""
    try:
        termios.tcgetattr(fd)
    except termios.error:
        return False
    return True
