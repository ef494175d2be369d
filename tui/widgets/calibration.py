"""Horizontal bar charts of recall: predicted against actual by bin (calibration), and retention by month."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.text import Text
from textual.widget import Widget

from cards.fsrs_stats import Calibration
from cards.stats import MonthRetention
from tui.widgets.safe_text import one_line

_EIGHTHS = " ▏▎▍▌▋▊▉█"
BAR_WIDTH = 24


def scale_floor(values: Sequence[float]) -> float:
    """Where a recall axis starts: the tenth below the lowest value (recall rarely goes below 50%)."""
    return min(0.5, math.floor(min(values, default=0.5) * 10) / 10)


def hbar(value: float, low: float, high: float = 1.0, width: int = BAR_WIDTH) -> str:
    """A bar of eighth-blocks for `value` on a `low`..`high` axis, padded to `width` cells."""
    share = (value - low) / (high - low) if high > low else 0.0
    eighths = round(min(max(share, 0.0), 1.0) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (_EIGHTHS[part] if part else "")).ljust(width)


def _cell(value: float, low: float, high: float = 1.0, width: int = BAR_WIDTH) -> int:
    share = (value - low) / (high - low) if high > low else 0.0
    return min(max(int(share * width), 0), width - 1)


def calibration_summary(found: Calibration) -> str:
    which = "your fitted" if found.fitted else "fsrs' default"
    return (
        f"{found.reviews} answer{'' if found.reviews == 1 else 's'} scored with {which} parameters: "
        f"log loss {found.log_loss:.3f}, RMSE(bins) {found.rmse_bins:.3f}"
    )


def render_calibration(found: Calibration | None, width: int = BAR_WIDTH) -> Text:
    """A summary line, then one row per bin: the actual recall as a bar, the prediction marked with │."""
    if found is None or not found.bins:
        return Text("No answers to score yet: they come once cards return on a later day.", style="dim")
    bins = found.bins
    low = scale_floor([value for b in bins for value in (b.predicted, b.actual)])
    text = Text(calibration_summary(found) + "\n", no_wrap=True)
    text.append(
        f"{'predicted':<10}{'recalled (│ = predicted)':<{width + 2}}{'actual':>7} {'answers':>8}\n",
        style="dim",
    )
    for b in bins:
        bar = list(hbar(b.actual, low, width=width))
        mark = _cell(b.predicted, low, width=width)
        text.append(f"{b.low:>4.0%}–{b.high:<4.0%} ", style="dim")
        text.append("".join(bar[:mark]), style="green")
        text.append("│", style="bold yellow")
        text.append("".join(bar[mark + 1 :]) + "  ", style="green")
        text.append(f"{b.actual:>6.1%} {b.count:>8}\n")
    text.append(f"{'':<10}{low:<.0%}{'100%':>{width - len(f'{low:.0%}')}}", style="dim")
    return text


def render_retention_by_month(months: Sequence[MonthRetention], width: int = BAR_WIDTH) -> Text:
    if not months:
        return Text("No reviews of cards in the review state yet.", style="dim")
    low = scale_floor([m.retention for m in months])
    text = Text(no_wrap=True)
    for index, m in enumerate(months):
        text.append(f"{m.month:%Y-%m} ", style="dim")
        text.append(hbar(m.retention, low, width=width), style="cyan")
        text.append(f" {m.retention:>6.1%} of {m.answered}" + ("\n" if index < len(months) - 1 else ""))
    return text


class CalibrationChart(Widget):
    """Predicted against actual recall; `update(found)` redraws, `failed(error)` says why there is none."""

    DEFAULT_CSS = """
    CalibrationChart { height: auto; width: auto; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._found: Calibration | None = None
        self._done = False
        self._error: str | None = None

    def update(self, found: Calibration | None) -> None:
        self._found, self._done = found, True
        self.refresh(layout=True)

    def failed(self, error: str) -> None:
        self._error, self._done = error, True
        self.refresh(layout=True)

    def render(self) -> Text:
        if self._error is not None:
            return Text(f"Could not score the predictions: {one_line(self._error)}", style="red")
        if not self._done:
            return Text("Scoring the predictions…", style="dim")
        return render_calibration(self._found)
