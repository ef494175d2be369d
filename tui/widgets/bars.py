"""A small vertical bar chart drawn with block characters (the due forecast on the stats screen)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widget import Widget

_EIGHTHS = " ▁▂▃▄▅▆▇█"


def bar_cells(value: int, peak: int, height: int) -> list[str]:
    """The column of block characters (top row first) that draws `value` on a `peak`-high scale."""
    eighths = round(value / peak * height * 8) if peak > 0 else 0
    if value > 0:
        eighths = max(eighths, 1)  # a non-zero day never looks empty
    column = []
    for row in range(height, 0, -1):
        filled = min(max(eighths - (row - 1) * 8, 0), 8)
        column.append(_EIGHTHS[filled])
    return column


def render_bars(values: Sequence[int], height: int = 6, bar_width: int = 2, style: str = "cyan") -> Text:
    """Bars for `values` (one per day, today first), a scale on the left and a day ruler underneath."""
    peak = max(values, default=0)
    top = max(peak, 1)  # nothing due: the axis still reads 0 to 1, not 0 at both ends
    label_width = len(str(top))
    columns = [bar_cells(v, top, height) for v in values]
    text = Text(no_wrap=True)
    for row in range(height):
        label = str(top) if row == 0 else ""
        text.append(f"{label:>{label_width}} │", style="dim")
        for column in columns:
            text.append(column[row] * (bar_width - 1) + " " if bar_width > 1 else column[row], style=style)
        text.append("\n")
    text.append(f"{0:>{label_width}} └" + "─" * (len(values) * bar_width) + "\n", style="dim")
    text.append(" " * (label_width + 2) + _day_ruler(len(values), bar_width), style="dim")
    return text


def _day_ruler(days: int, bar_width: int) -> str:
    """'today' under the first bar, then a day number every week: "0     7     14 ..."."""
    ruler = [" "] * (days * bar_width)
    for day in range(0, days, 7):
        label = str(day)
        start = day * bar_width
        ruler[start : start + len(label)] = label
    return "".join(ruler[: days * bar_width])


class BarChart(Widget):
    """Renders `values` as bars; `update(values)` redraws."""

    DEFAULT_CSS = """
    BarChart { height: auto; width: auto; }
    """

    def __init__(
        self,
        values: Sequence[int] = (),
        *,
        chart_height: int = 6,
        bar_width: int = 1,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._values = list(values)
        self._chart_height = chart_height
        self._bar_width = bar_width

    def update(self, values: Sequence[int]) -> None:
        self._values = list(values)
        self.refresh(layout=True)

    def render(self) -> Text:
        return render_bars(self._values, height=self._chart_height, bar_width=self._bar_width)
