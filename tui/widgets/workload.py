"""Workload against desired retention (fsrs-rs' simulator), the current setting marked."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widget import Widget

from cards.fsrs_rs import WorkloadPoint
from tui.widgets.calibration import hbar

BAR_WIDTH = 20


def render_workload(points: Sequence[WorkloadPoint], current: float, width: int = BAR_WIDTH) -> Text:
    """Minutes per day as bars, one row per desired retention, with answers per day and cards kept."""
    peak = max((p.minutes_per_day for p in points), default=0.0)
    text = Text(no_wrap=True)
    text.append(
        f"{'retention':<10}{'minutes a day':<{width + 8}}{'answers':>8}{'remembered':>11}\n", style="dim"
    )
    for index, p in enumerate(points):
        now = abs(p.desired_retention - current) < 1e-9
        text.append(f"{p.desired_retention:>7.0%}   ", style="bold" if now else "dim")
        text.append(hbar(p.minutes_per_day, 0.0, peak or 1.0, width=width), style="magenta")
        text.append(f" {p.minutes_per_day:>6.1f} {p.reviews_per_day:>8.0f} {p.remembered:>10,.0f}")
        text.append("  ◀ now" if now else "", style="bold yellow")
        text.append("\n" if index < len(points) - 1 else "")
    return text


class WorkloadChart(Widget):
    """`update(points, current)` redraws; points may arrive one by one while they are simulated."""

    DEFAULT_CSS = """
    WorkloadChart { height: auto; width: auto; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._points: list[WorkloadPoint] = []
        self._current = 0.9
        self._done = False

    def update(self, points: Sequence[WorkloadPoint], current: float, done: bool = True) -> None:
        self._points, self._current, self._done = list(points), current, done
        self.refresh(layout=True)

    def render(self) -> Text:
        text = render_workload(self._points, self._current) if self._points else Text()
        if not self._done:
            text.append(("\n" if self._points else "") + "Simulating…", style="dim")
        return text
