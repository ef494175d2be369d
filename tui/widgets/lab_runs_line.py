"""One line on the home and study screens about the labs of this session that are not on screen: which are
still training (with their progress), and which finished, failed or were cancelled in the background. A
run that ends while such a screen is shown is also said once, in the past tense, as a toast.

It does not poll: the app's runs wake it (`LabRuns.listen`) when one changes or ends, and it redraws at
most every REDRAW_GAP seconds, and when its screen comes back. It is hidden while there is nothing to
say, so the screens look as before until a lab is left running.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from tui.services import services_of
from tui.widgets.safe_text import one_line

if TYPE_CHECKING:
    from labs.runner import LabRun

REDRAW_GAP = 0.5  # seconds at least between two redraws while a run reports progress

_ENDED = {
    "finished": ("✓", "finished", "green"),
    "failed": ("✗", "failed", "red"),
    "cancelled": ("■", "was cancelled", "yellow"),
}


def running_words(run: LabRun) -> str:
    """ "collab running · 45% · ETA 0:31" (progress and ETA once the lab has reported them)."""
    words = f"{run.info.id} running"
    with run.reading() as state:
        progress = state.progress
    if progress is not None and progress.total > 0:
        words += f" · {min(99, 100 * progress.done // progress.total)}%"
        if progress.eta is not None:
            seconds = max(int(round(progress.eta)), 0)
            words += f" · ETA {seconds // 60}:{seconds % 60:02d}"
    return words


def ended_words(run: LabRun) -> str:
    """ "collab finished in the background (68 s)": past tense, said once the run has ended."""
    _, verb, _ = _ENDED.get(run.status, ("", run.status, ""))
    seconds = getattr(run, "ended_after", None)
    took = f" ({seconds:.0f} s)" if seconds is not None else ""
    return f"lab {run.info.id} {verb} in the background{took}"


class LabRunsLine(Static):
    DEFAULT_CSS = """
    LabRunsLine { height: auto; max-height: 2; padding: 0 1; color: $text-muted; display: none; }
    LabRunsLine.-shown { display: block; }
    """

    class RunsChanged(Message):
        """A lab run changed or ended (posted from the thread reading it)."""

    def __init__(self) -> None:
        super().__init__()
        self._wake_posted = False  # one RunsChanged on its way at a time, however many events

    def on_mount(self) -> None:
        services_of(self).lab_runs.listen(self._wake)
        self.app.screen_change_signal.subscribe(self, self._screen_changed)
        self.refresh_runs()

    def on_unmount(self) -> None:
        services_of(self).lab_runs.unlisten(self._wake)

    def _wake(self) -> None:
        if not self._wake_posted:
            self._wake_posted = True
            self.post_message(self.RunsChanged())

    def on_lab_runs_line_runs_changed(self) -> None:
        self.set_timer(REDRAW_GAP, self._redraw_after_gap)  # progress every batch: one redraw per gap

    def _redraw_after_gap(self) -> None:
        self._wake_posted = False
        self.refresh_runs()

    def _screen_changed(self, screen: Screen[object]) -> None:
        if screen is self.screen:  # back from a lab: say what ended meanwhile
            self.refresh_runs()

    def refresh_runs(self) -> None:
        runs = services_of(self).lab_runs
        if self.screen.is_current:  # said once, as a toast, on whichever of these screens is shown
            for run in runs.take_unannounced():
                self.notify(
                    one_line(ended_words(run)), severity="error" if run.status == "failed" else "information"
                )
        line = Text()
        for run in runs.running():
            line.append("  " if line else "")
            line.append("▶ " + one_line(running_words(run)), style="bold")
        for run in runs.unseen_ended():
            mark, _, style = _ENDED.get(run.status, ("·", "", ""))
            line.append("  " if line else "")
            line.append(f"{mark} " + one_line(ended_words(run)), style=style)
        self.update(line)
        self.set_class(bool(line), "-shown")
