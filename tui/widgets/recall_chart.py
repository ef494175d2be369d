"""A small chart of a card's retrievability over time, from its FSRS stability after each review.

After a review at t_i with stability S_i, FSRS predicts recall R(t) = (1 + factor * days(t - t_i) / S_i) ** decay
(R = 90% when t - t_i = S_i days); each review starts the curve again from 100%. The chart shows that
sawtooth from the first review to a little past now, one bar per column, reviews marked under the axis.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo

from rich.text import Text
from textual.widget import Widget

BLOCKS = " ▁▂▃▄▅▆▇█"
DAY_MS = 86_400_000
LABEL_WIDTH = 5  # "100% "


def recall(elapsed_ms: float, stability: float, decay: float, factor: float) -> float:
    return (1 + factor * max(0.0, elapsed_ms) / DAY_MS / stability) ** decay


def recall_samples(
    reviews: Sequence[tuple[int, float | None]],
    start_ms: int,
    end_ms: int,
    width: int,
    decay: float,
    factor: float,
) -> list[float | None]:
    """R at the middle of each of `width` columns between start and end; None before the first review
    or where the review gave no stability. `reviews` are (time, stability after), oldest first."""
    times = [moment for moment, _ in reviews]
    step = (end_ms - start_ms) / width
    samples: list[float | None] = []
    for column in range(width):
        moment = start_ms + (column + 0.5) * step
        index = bisect.bisect_right(times, moment) - 1
        stability = reviews[index][1] if index >= 0 else None
        samples.append(None if not stability else recall(moment - times[index], stability, decay, factor))
    return samples


def bar_rows(samples: Sequence[float | None], height: int) -> list[str]:
    """The bars, top row first: each column filled to R * height rows, in eighths of a row."""
    eighths = [0 if value is None else round(value * height * 8) for value in samples]
    rows = []
    for row in range(height - 1, -1, -1):
        rows.append("".join(BLOCKS[max(0, min(8, filled - row * 8))] for filled in eighths))
    return rows


class RecallChart(Widget):
    """Retrievability over time; `show(...)` gives it a card's reviews, the rest is drawn to fit."""

    DEFAULT_CSS = """
    RecallChart { height: 8; }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self._reviews: list[tuple[int, float | None]] = []
        self._now_ms = 0
        self._decay, self._factor = -0.5, 19 / 81
        self._tz: tzinfo | None = None

    def show(
        self,
        reviews: Sequence[tuple[int, float | None]],
        now_ms: int,
        decay: float,
        factor: float,
        tz: tzinfo | None,
    ) -> None:
        self._reviews = sorted(reviews)
        self._now_ms, self._decay, self._factor, self._tz = now_ms, decay, factor, tz
        self.refresh()

    def render(self) -> Text:
        if not self._reviews:
            return Text("no reviews yet: nothing to predict", style="dim")
        height = max(1, self.size.height - 2)
        width = max(8, self.size.width - LABEL_WIDTH)
        start = self._reviews[0][0]
        span = max(self._now_ms - start, DAY_MS)
        end = self._now_ms + span // 4  # a quarter more: where the curve goes if the card waits
        samples = recall_samples(self._reviews, start, end, width, self._decay, self._factor)
        now_column = min(width - 1, int((self._now_ms - start) / (end - start) * width))
        text = Text(no_wrap=True, overflow="crop")
        for index, row in enumerate(bar_rows(samples, height)):
            label = "100%" if index == 0 else ("  0%" if index == height - 1 and height > 2 else "")
            text.append(f"{label:>4} ", style="dim")
            text.append(row[: now_column + 1], style="green")
            text.append(row[now_column + 1 :], style="dim green")
            text.append("\n")
        text.append(" " * LABEL_WIDTH + self._axis(start, end, width, now_column), style="dim")
        text.append("\n" + " " * LABEL_WIDTH + self._dates(start, width, now_column), style="dim")
        return text

    def _axis(self, start: int, end: int, width: int, now_column: int) -> str:
        axis = ["─"] * width
        for moment, _ in self._reviews:
            axis[min(width - 1, int((moment - start) / (end - start) * width))] = "▲"
        axis[now_column] = "┃" if axis[now_column] == "─" else axis[now_column]
        return "".join(axis)

    def _dates(self, start: int, width: int, now_column: int) -> str:
        first = _date(start, self._tz)
        now = "now"
        gap = max(1, now_column - len(first))
        line = f"{first}{' ' * gap}{now}"
        return line[:width]


def _date(ms: int, tz: tzinfo | None) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(tz).strftime("%d %b %Y")
