"""A review heatmap: one cell per day, weeks as columns, Monday on top (like a contributions graph)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

from rich.text import Text
from textual.widget import Widget

# Both a shape and a colour per level, so the map also reads on a monochrome terminal.
_LEVELS = (("·", "grey42"), ("░", "green4"), ("▒", "green3"), ("▓", "green1"), ("█", "bright_green"))
_WEEKDAYS = ("Mon", "", "Wed", "", "Fri", "", "Sun")


def level_of(count: int, peak: int) -> int:
    """0 for no reviews, else 1..4 by the share of the busiest day."""
    if count <= 0 or peak <= 0:
        return 0
    return min(len(_LEVELS) - 1, 1 + (count * (len(_LEVELS) - 1) - 1) // peak)


def render_heatmap(counts: Mapping[date, int], today: date, weeks: int = 26) -> Text:
    """`weeks` columns ending with the week of `today`; days after today stay blank."""
    first_monday = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)
    shown = [first_monday + timedelta(days=d) for d in range(weeks * 7)]
    peak = max((counts.get(day, 0) for day in shown if day <= today), default=0)
    text = Text(no_wrap=True)
    text.append("    " + _month_ruler(first_monday, weeks) + "\n", style="dim")
    for weekday in range(7):
        text.append(f"{_WEEKDAYS[weekday]:<4}", style="dim")
        for week in range(weeks):
            day = first_monday + timedelta(weeks=week, days=weekday)
            if day > today:
                text.append("  ")
                continue
            glyph, colour = _LEVELS[level_of(counts.get(day, 0), peak)]
            text.append(glyph + " ", style=colour)
        text.append("\n")
    legend = Text("    less ", style="dim")
    for glyph, colour in _LEVELS:
        legend.append(glyph + " ", style=colour)
    legend.append("more", style="dim")
    return text + legend


def _month_ruler(first_monday: date, weeks: int) -> str:
    """Month abbreviations above the week column holding each month's first day (the first column is
    labelled with its own month unless the next one starts a month); a label that would run past the last
    column ends with it, so the current month shows even when it began this week or last."""
    width = weeks * 2
    ruler = [" "] * width
    labels: list[tuple[int, str]] = []
    for week in range(weeks):
        monday = first_monday + timedelta(weeks=week)
        first_day = next(
            (day for day in (monday + timedelta(days=d) for d in range(7)) if day.day == 1), None
        )
        if first_day is not None:
            labels.append((week, first_day.strftime("%b")))
        elif week == 0:
            labels.append((0, monday.strftime("%b")))
    if len(labels) > 1 and labels[0][0] == 0 and labels[1][0] == 1 and first_monday.day != 1:
        labels.pop(0)  # no room for the first column's month before the next one
    free_from = 0
    for week, label in labels:
        start = min(week * 2, width - len(label))
        if start >= free_from and start >= 0:
            ruler[start : start + len(label)] = label
            free_from = start + len(label) + 1
    return "".join(ruler)


class Heatmap(Widget):
    """Renders daily review counts; `update(counts, today)` redraws."""

    DEFAULT_CSS = """
    Heatmap { height: auto; width: auto; }
    """

    def __init__(
        self,
        counts: Mapping[date, int] | None = None,
        today: date | None = None,
        *,
        weeks: int = 26,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._counts = dict(counts or {})
        self._today = today or date.today()
        self._weeks = weeks

    def update(self, counts: Mapping[date, int], today: date) -> None:
        self._counts = dict(counts)
        self._today = today
        self.refresh(layout=True)

    def render(self) -> Text:
        return render_heatmap(self._counts, self._today, self._weeks)
