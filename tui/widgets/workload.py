"""Workload against desired retention (fsrs-rs' simulator), the current setting marked."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.text import Text
from textual.widget import Widget

from cards.fsrs_rs import WorkloadPoint
from tui.widgets.calibration import hbar

BAR_WIDTH = 20
MIN_BAR_WIDTH, MAX_BAR_WIDTH = 6, 40
# The columns beside the bar: retention (10), minutes (1 + 6), answers (1 + 8), remembered (1 + 10), "  ◀ now".
BESIDE_THE_BAR = 10 + 7 + 9 + 11 + 7


def minutes_decimals(peak: float) -> int:
    """Decimals that tell the rows apart: 1 from a minute a day up, more below (0.06 and 0.14 are not 0.1)."""
    if peak >= 1.0 or peak <= 0.0:
        return 1
    return min(3, 1 + max(0, -math.floor(math.log10(peak))))


def bar_width_for(width: int) -> int:
    """The bar's width in a chart `width` cells wide (all of it but the columns beside the bar)."""
    return min(MAX_BAR_WIDTH, max(MIN_BAR_WIDTH, width - BESIDE_THE_BAR))


def render_workload(points: Sequence[WorkloadPoint], current: float, width: int = BAR_WIDTH) -> Text:
    """Minutes per day as bars, one row per desired retention, with answers per day and cards kept. Each
    bar draws the minutes its row shows (rounded as shown), so equal numbers have equal bars."""
    decimals = minutes_decimals(max((p.minutes_per_day for p in points), default=0.0))
    shown = [round(p.minutes_per_day, decimals) for p in points]
    peak = max(shown, default=0.0)
    text = Text(no_wrap=True)
    text.append(
        f"{'retention':<10}{'minutes a day':<{width + 8}}{'answers':>8}{'remembered':>11}\n", style="dim"
    )
    for index, (p, minutes) in enumerate(zip(points, shown)):
        now = abs(p.desired_retention - current) < 1e-9
        text.append(f"{p.desired_retention:>7.0%}   ", style="bold" if now else "dim")
        text.append(hbar(minutes, 0.0, peak or 1.0, width=width), style="magenta")
        text.append(f" {minutes:>6.{decimals}f} {p.reviews_per_day:>8.0f} {p.remembered:>10,.0f}")
        text.append("  ◀ now" if now else "", style="bold yellow")
        text.append("\n" if index < len(points) - 1 else "")
    return text


class WorkloadChart(Widget):
    """`update(points, current)` redraws; points may arrive one by one while they are simulated."""

    DEFAULT_CSS = """
    WorkloadChart { height: auto; width: auto; text-wrap: nowrap; text-overflow: clip; }
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
        width = bar_width_for(self.content_size.width) if self.content_size.width else BAR_WIDTH
        text = render_workload(self._points, self._current, width) if self._points else Text()
        if not self._done:
            text.append(("\n" if self._points else "") + "Simulating…", style="dim")
        return text
