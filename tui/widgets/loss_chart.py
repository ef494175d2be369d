"""A terminal line chart drawn with braille dots: loss over steps, or loss over a log-scaled lr.

`render_chart` is a pure function (series in, Rich `Text` out) shared by the lab screen and by
`cardlab lab run` / `lab show`, which print it as plain text. `chart_for` splits a lab's losses into
panels when their scales differ too much to share one y axis. `LossChart` is the widget: it collects
points as they arrive and redraws at most a few times a second, so a fast training loop cannot flood
the screen.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from rich.text import Text
from textual.widget import Widget

from labs.events import arm_of

# Braille cells hold 2 x 4 dots; this is the bit of each dot, indexed [x][y] within the cell.
_DOT_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
_BRAILLE_BASE = 0x2800
_GUTTER = 9  # y-axis labels and the axis line


@dataclass
class Series:
    name: str
    points: Sequence[tuple[float, float]]
    style: str = "cyan"
    mark: int = 0  # its line pattern (MARKS): series differ in marks as well as colours
    band: Sequence[tuple[float, float, float]] = ()  # (x, low, high): the spread around the line
    key: bool = False  # an arm's mean over seeds, or its validation line: the legend names these first
    valid_of: str = ""  # a validation line: the curve it belongs to (one legend item names both)


# Line patterns, by pixel index along a line, with the legend glyph of each: without colour, the marks
# still tell the curves apart.
MARKS = ("━", "┉", "╍", "┅")
_PATTERNS = (
    lambda i: True,
    lambda i: i % 3 == 0,
    lambda i: (i // 3) % 2 == 0,
    lambda i: i % 6 in (0, 1, 2, 4),
)


@dataclass
class Marker:
    """A vertical line at `x` (an lr suggestion, say)."""

    x: float
    label: str
    style: str = "magenta"


@dataclass
class _Canvas:
    width: int  # in cells
    height: int
    bits: list[list[int]] = field(init=False)
    styles: list[list[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.bits = [[0] * self.width for _ in range(self.height)]
        self.styles = [[""] * self.width for _ in range(self.height)]

    def dot(self, px: int, py: int, style: str) -> None:
        cx, cy = px // 2, py // 4
        if 0 <= cx < self.width and 0 <= cy < self.height:
            self.bits[cy][cx] |= _DOT_BITS[px % 2][py % 4]
            self.styles[cy][cx] = style

    def line(self, a: tuple[int, int], b: tuple[int, int], style: str, mark: int = 0, start: int = 0) -> int:
        """Dots from a to b in the pattern `mark`, counting pixels from `start` so a pattern runs on across
        the segments of one curve; returns the count to continue from."""
        steps = max(abs(b[0] - a[0]), abs(b[1] - a[1]), 1)
        drawn = _PATTERNS[mark % len(_PATTERNS)]
        for i in range(steps + 1):
            if drawn(start + i):
                t = i / steps
                self.dot(round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), style)
        return start + steps


def _finite(points: Sequence[tuple[float, float]], log_x: bool) -> list[tuple[float, float]]:
    return [(x, y) for x, y in points if math.isfinite(x) and math.isfinite(y) and (not log_x or x > 0)]


def _ticks(value: float) -> str:
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e4 or magnitude < 1e-2:
        return f"{value:.0e}".replace("e-0", "e-").replace("e+0", "e").replace("e+", "e")
    if magnitude >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def render_chart(
    series: Sequence[Series],
    width: int = 60,
    height: int = 12,
    *,
    log_x: bool = False,
    markers: Sequence[Marker] = (),
    y_max: float | None = None,
    x_label: str = "step",
    legend_grows: bool = False,
) -> Text:
    """Draw `series` in a `width` x `height` character box (legend and x labels included); with
    `legend_grows` (the command line, which has rows to spare), a legend of several lines adds rows
    rather than taking them from the plot, and names every series.

    `y_max` clips the top of the y axis (the lr-finder curve explodes at the end); points above it
    are drawn on the top edge.
    """
    plot_w = max(width - _GUTTER, 4)
    cleaned = [(s, _finite(s.points, log_x)) for s in series]
    all_points = [p for _, pts in cleaned for p in pts]
    text = Text(no_wrap=True, overflow="crop")
    # The legend takes at most a third of the rows and leaves the plot at least MIN_PLOT: a lab with tuning
    # curves had 20 names, and their 12 lines left a 16-row chart a plot of 3.
    max_lines = 1000 if legend_grows else max(min(height - 1 - MIN_PLOT, (height - 1) // 3), 1)
    legend = _legend(series, markers, width, f"x: {x_label}{' (log)' if log_x else ''}", max_lines)
    for line in legend:
        text.append_text(line)
        text.append("\n")
    plot_h = max(height - (1 if legend_grows else len(legend)) - 1, 2)
    if not all_points:
        for row in range(plot_h):
            text.append(
                " " * (_GUTTER - 1) + "│" + ("waiting for data…" if row == plot_h // 2 else "") + "\n",
                style="dim",
            )
        text.append(" " * (_GUTTER - 1) + "└" + "─" * plot_w, style="dim")
        return text

    def fx(x: float) -> float:
        return math.log10(x) if log_x else x

    xs = [fx(x) for x, _ in all_points] + [fx(m.x) for m in markers if not log_x or m.x > 0]
    ys = [y for _, y in all_points]
    x_lo, x_hi = min(xs), max(xs)
    y_lo, y_hi = min(ys), max(ys)
    if y_max is not None and y_max > y_lo:
        y_hi = min(y_hi, y_max)
    if x_hi == x_lo:
        x_hi = x_lo + 1
    if y_hi == y_lo:
        y_hi, y_lo = y_hi + 0.5, y_lo - 0.5
    px_w, px_h = plot_w * 2, plot_h * 4

    def to_px(x: float, y: float) -> tuple[int, int]:
        col = round((fx(x) - x_lo) / (x_hi - x_lo) * (px_w - 1))
        row = round((y_hi - min(y, y_hi)) / (y_hi - y_lo) * (px_h - 1))
        return col, row

    canvas = _Canvas(plot_w, plot_h)
    for s in series:  # bands first: the lines are drawn over them
        for x, low, high in s.band:
            if not (math.isfinite(x) and math.isfinite(low) and math.isfinite(high)) or (log_x and x <= 0):
                continue
            col, top = to_px(x, high)
            _, bottom = to_px(x, low)
            for py in range(top, bottom + 1, 2):
                canvas.dot(col, py, f"dim {s.style}")
    for marker in markers:
        if log_x and marker.x <= 0:
            continue
        col, _ = to_px(marker.x, y_lo)
        for py in range(0, px_h, 2):
            canvas.dot(col, py, marker.style)
    for s, points in cleaned:
        pixels = _one_per_column([to_px(x, y) for x, y in points])
        if len(pixels) == 1:
            canvas.dot(*pixels[0], s.style)
        drawn = 0
        for a, b in zip(pixels, pixels[1:]):
            drawn = canvas.line(a, b, s.style, s.mark, drawn)

    for row in range(plot_h):
        label = ""
        if row == 0:
            label = _ticks(y_hi)
        elif row == plot_h - 1:
            label = _ticks(y_lo)
        elif row == plot_h // 2 and plot_h >= 5:
            label = _ticks((y_hi + y_lo) / 2)
        text.append(f"{label:>{_GUTTER - 2}} ┤" if label else " " * (_GUTTER - 1) + "│", style="dim")
        for col in range(plot_w):
            bits = canvas.bits[row][col]
            text.append(chr(_BRAILLE_BASE + bits) if bits else " ", style=canvas.styles[row][col] or None)
        text.append("\n")
    text.append(" " * (_GUTTER - 1) + "└", style="dim")
    text.append(_x_axis(x_lo, x_hi, plot_w, log_x), style="dim")
    return text


def _one_per_column(pixels: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Consecutive pixels in one dot column as one, at their mean row: a 2,000-step curve in 160 dot
    columns is drawn with 160 segments, not 2,000, and looks the same (30 such curves took 100 ms)."""
    merged: list[tuple[int, int]] = []
    rows: list[int] = []
    for index, (col, row) in enumerate(pixels):
        rows.append(row)
        if index + 1 == len(pixels) or pixels[index + 1][0] != col:
            merged.append((col, round(sum(rows) / len(rows))))
            rows = []
    return merged


def _legend(
    series: Sequence[Series], markers: Sequence[Marker], width: int, axis: str, max_lines: int = 1000
) -> list[Text]:
    """Every named series and marker, wrapped onto as many lines as they need; then the axis name if it
    fits on the last line (a nicety, not worth a row of the plot). Over `max_lines`, the legend starts at
    the left edge rather than past the y axis, and then ends in "+N more" (`s`, per-seed curves, or the
    command line's chart names them all). The arms' means come first, so a cut legend still names what the
    verdict compares rather than the tuning runs; a validation line shares its curve's item."""
    items = _series_items(series) + [Text(f"┊ {m.label} {_ticks(m.x)}", style=m.style) for m in markers]
    lines = _legend_lines(items, width, _GUTTER)
    if len(lines) > max_lines:
        lines = _legend_lines(items, width, 0)
    if len(lines) > max_lines:
        kept: list[Text] = []
        for count in range(len(items), -1, -1):
            more = [Text(f"+{len(items) - count} more", style="dim")] if count < len(items) else []
            kept = items[:count] + more
            if len(_legend_lines(kept, width, 0)) <= max_lines:
                break
        lines = _legend_lines(kept, width, 0)
    axis_item = Text(axis, style="dim")
    if _fits(lines[-1], axis_item, width):
        _add_item(lines[-1], axis_item)
    return lines


def _series_items(series: Sequence[Series]) -> list[Text]:
    """One legend item per named curve, "━ name ━ valid" when it has a validation line (the second mark in
    the validation colour): half the items of naming the two apart."""
    named = sorted((s for s in series if s.name), key=lambda s: not s.key)
    validations = {s.valid_of: s for s in named if s.valid_of}
    curves = {s.name for s in named if not s.valid_of}
    items = []
    for s in named:
        if s.valid_of in curves:
            continue  # named in its curve's item
        item = Text(f"{_mark(s)} {s.name}", style=s.style)
        if not s.valid_of and (valid := validations.get(s.name)) is not None:
            item.append(f" {_mark(valid)} valid", style=valid.style)
        items.append(item)
    return items


def _mark(series: Series) -> str:
    return MARKS[series.mark % len(MARKS)]


def _legend_lines(items: Sequence[Text], width: int, indent: int) -> list[Text]:
    lines = [Text(" " * indent)]
    for item in items:
        if not _fits(lines[-1], item, width) and lines[-1].cell_len > indent:
            lines.append(Text(" " * indent))
        _add_item(lines[-1], item)
    return lines


def _fits(line: Text, item: Text, width: int) -> bool:
    return line.cell_len + 2 + item.cell_len <= width


def _add_item(line: Text, item: Text) -> None:
    if line.plain.strip():
        line.append("  ")
    line.append_text(item)


def _x_axis(lo: float, hi: float, plot_w: int, log_x: bool) -> str:
    """Tick labels under the plot: first, middle and last value."""
    ruler = [" "] * plot_w
    for fraction in (0.0, 0.5, 1.0):
        value = lo + (hi - lo) * fraction
        label = _ticks(10**value if log_x else value)
        start = min(max(round(fraction * (plot_w - 1)) - len(label) // 2, 0), plot_w - len(label))
        ruler[start : start + len(label)] = label
    return "".join(ruler)


def smooth(points: Sequence[tuple[float, float]], beta: float = 0.9) -> list[tuple[float, float]]:
    """Exponentially weighted moving average with debiasing, as fastai's recorder smooths losses."""
    result, average = [], 0.0
    for i, (x, y) in enumerate(points, start=1):
        average = beta * average + (1 - beta) * y
        result.append((x, average / (1 - beta**i)))
    return result


TRAIN_STYLES = ("cyan", "green", "magenta", "blue", "red", "bright_white")
VALID_STYLES = ("yellow", "bright_green", "bright_magenta", "bright_blue", "bright_red", "white")
OVERLAY_STYLE = "grey50"
Points = Sequence[tuple[float, float]]
Kind = tuple[str, ...]  # a curve's metric names: curves with the same ones measure the same kind of model
SCALE_RATIO = 4.0  # curves whose typical losses are further apart than this get separate panels
MIN_PLOT = 3  # rows of plot the legend always leaves
MIN_PANEL_HEIGHT = 7  # rows: a legend line, a plot of 5, the x axis
MAX_PANELS = 4


class LossChart(Widget):
    """Live loss curves (one per series) or the lr-finder curve, with a previous run's curves in grey."""

    DEFAULT_CSS = """
    LossChart { height: 14; width: 1fr; }
    """

    def __init__(
        self, *, refresh_per_second: float = 5.0, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.curves: dict[str, Points] = {}
        self.valid_curves: dict[str, Points] = {}
        self.lr_finder: list[tuple[float, float]] = []
        self.markers: list[Marker] = []
        self.overlay: dict[str, Points] = {}
        self.overlay_lr: list[tuple[float, float]] = []
        self.overlay_name = "previous run"
        self.per_seed = False  # draw every seed's curve rather than each arm's mean and spread
        self.kinds: dict[str, Kind] = {}  # each curve's kind, from its epoch rows
        self.overlay_kinds: dict[str, Kind] = {}
        self._dirty = False
        self._interval = 1.0 / refresh_per_second

    def _redraw_if_dirty(self) -> None:
        if self._dirty:
            self._dirty = False
            self.refresh()

    def changed(self) -> None:
        """Mark new data; the widget redraws once within 1/refresh_per_second, not once per change."""
        if not self._dirty:
            self._dirty = True
            self.set_timer(self._interval, self._redraw_if_dirty)

    def show(
        self,
        curves: Mapping[str, Points],
        valid_curves: Mapping[str, Points],
        lr_finder: Points,
        markers: Sequence[Marker],
        kinds: Mapping[str, Kind],
    ) -> None:
        """Draw a run's curves as they are now (`RunState.chart_data`: thinned there, copied for this
        widget), its lr-finder suggestions, and each curve's kind, which tells which curves share a scale."""
        self.curves, self.valid_curves, self.lr_finder = dict(curves), dict(valid_curves), list(lr_finder)
        self.markers, self.kinds = list(markers), dict(kinds)
        self.changed()

    def clear(self) -> None:
        self.curves, self.valid_curves, self.lr_finder, self.markers = {}, {}, [], []
        self.kinds = {}
        self.changed()

    def set_overlay(
        self,
        curves: Mapping[str, Points],
        lr_finder: Points,
        name: str,
        kinds: Mapping[str, Kind] | None = None,
    ) -> None:
        self.overlay, self.overlay_lr, self.overlay_name = dict(curves), list(lr_finder), name
        self.overlay_kinds = dict(kinds or {})
        self.changed()

    @property
    def point_count(self) -> int:
        return (
            sum(map(len, self.curves.values()))
            + sum(map(len, self.valid_curves.values()))
            + len(self.lr_finder)
        )

    @property
    def has_seeds(self) -> bool:
        """Some curve is one seed's fit of an arm ("ARM · seed N"): `per_seed` changes what is drawn."""
        return any(arm_of(name) is not None for name in (*self.curves, *self.valid_curves))

    def render(self) -> Text:
        width, height = self.size.width or 60, self.size.height or 12
        return chart_for(
            self.curves,
            self.valid_curves,
            self.lr_finder,
            self.markers,
            overlay=self.overlay,
            overlay_lr=self.overlay_lr,
            width=width,
            height=height,
            overlay_name=self.overlay_name,
            kinds={**self.overlay_kinds, **self.kinds},
            per_seed=self.per_seed,
        )


def chart_for(
    curves: Mapping[str, Points],
    valid_curves: Mapping[str, Points],
    lr_finder: Points,
    markers: Sequence[Marker],
    *,
    overlay: Mapping[str, Points] | None = None,
    overlay_lr: Points = (),
    width: int = 60,
    height: int = 12,
    overlay_name: str = "previous run",
    kinds: Mapping[str, Kind] | None = None,
    panel_height: int | None = None,
    per_seed: bool = False,
) -> Text:
    """The chart a lab shows: the lr-finder curve (log x) if that is all there is, else the losses.

    Losses of different scales (a language model's ~5 and a classifier's ~0.01) get a panel each, so
    neither is a flat line: see `scale_groups`. The panels share `height`, or get `panel_height` rows
    each (the command line, which has no height to share). The seeds of one arm ("ARM · seed N") are
    drawn as the arm's mean with a band for their spread, unless `per_seed`.
    """
    if lr_finder and not curves:
        return lr_finder_chart(lr_finder, markers, overlay_lr, width, height, overlay_name)
    bands: dict[str, list[tuple[float, float, float]]] = {}
    if not per_seed:
        curves, valid_curves, bands, kinds = by_arm(curves, valid_curves, kinds or {})
    overlay = overlay or {}
    names = list(dict.fromkeys([*curves, *valid_curves, *overlay]))
    levels = {
        name: _level(curves.get(name) or valid_curves.get(name) or overlay.get(name) or ()) for name in names
    }
    max_panels = MAX_PANELS if panel_height else max(height // MIN_PANEL_HEIGHT, 1)
    groups = scale_groups(names, levels, kinds or {}, max_panels)
    heights = [panel_height] * len(groups) if panel_height else _shares(height, len(groups))
    panels = []
    for group, rows in zip(groups, heights):
        series = _panel_series(group, curves, valid_curves, overlay, overlay_name, bands)
        panels.append(
            render_chart(
                series, width, rows, x_label="step", y_max=robust_top(series), legend_grows=bool(panel_height)
            )
        )
    return Text("\n").join(panels)


def _panel_series(
    names: list[str],
    curves: Mapping[str, Points],
    valid_curves: Mapping[str, Points],
    overlay: Mapping[str, Points],
    overlay_name: str,
    bands: Mapping[str, Sequence[tuple[float, float, float]]] | None = None,
) -> list[Series]:
    """The overlay in grey (named once), then each curve and its validation points; a curve keeps its colour
    and its mark whichever panel it lands in."""
    bands = bands or {}
    shown = [name for name in names if name in overlay]
    series = [
        Series(overlay_name if i == 0 else "", smooth(overlay[n]), OVERLAY_STYLE) for i, n in enumerate(shown)
    ]
    order = list(dict.fromkeys([*curves, *valid_curves]))
    single = order == ["train"]
    for name in (n for n in names if n in curves):
        index = order.index(name)
        style = TRAIN_STYLES[index % len(TRAIN_STYLES)]
        band = bands.get(name, ())
        series.append(Series(name, smooth(curves[name]), style, mark=index, band=band, key=bool(band)))
    for name in (n for n in names if n in valid_curves):
        label = "valid" if single else f"{name} valid"
        index = order.index(name)
        style = VALID_STYLES[index % len(VALID_STYLES)]
        partner = name if name in curves else ""
        series.append(
            Series(label, valid_curves[name], style, mark=index, key=bool(bands.get(name)), valid_of=partner)
        )
    return series


def by_arm(
    curves: Mapping[str, Points], valid_curves: Mapping[str, Points], kinds: Mapping[str, Kind]
) -> tuple[
    dict[str, list[tuple[float, float]]],
    dict[str, list[tuple[float, float]]],
    dict[str, list[tuple[float, float, float]]],
    dict[str, Kind],
]:
    """The seeds of each arm ("ARM · seed N", `labs.events.seed_series`) as one curve: the mean loss at each
    step over the seeds that reached it, named "ARM (mean of N seeds)", with a band from the lowest to the
    highest smoothed seed curve. Curves of no seed pass through unchanged."""
    arms: dict[str, list[str]] = {}
    for name in dict.fromkeys([*curves, *valid_curves]):
        arms.setdefault(_arm_label(name, curves, valid_curves), []).append(name)
    merged: dict[str, list[tuple[float, float]]] = {}
    merged_valid: dict[str, list[tuple[float, float]]] = {}
    bands: dict[str, list[tuple[float, float, float]]] = {}
    merged_kinds: dict[str, Kind] = {}
    for label, members in arms.items():
        if label in members:  # a curve of no seed, or an arm's only seed
            if label in curves:
                merged[label] = list(curves[label])
            if label in valid_curves:
                merged_valid[label] = list(valid_curves[label])
        else:
            seeded = [curves[m] for m in members if m in curves]
            if seeded:
                merged[label] = _mean_by_step(seeded)
                bands[label] = _band_by_step([smooth(points) for points in seeded])
            valid = [valid_curves[m] for m in members if m in valid_curves]
            if valid:
                merged_valid[label] = _mean_by_position(valid)
        kind = next((kinds[m] for m in members if m in kinds), None)
        if kind is not None:
            merged_kinds[label] = kind
    return merged, merged_valid, bands, merged_kinds


def _arm_label(name: str, *curve_sets: Mapping[str, Points]) -> str:
    arm = arm_of(name)
    if arm is None:
        return name
    seeds = {other for curves in curve_sets for other in curves if arm_of(other) == arm}
    return name if len(seeds) == 1 else f"{arm} (mean of {len(seeds)} seeds)"  # one seed: no mean to speak of


def _mean_by_step(curves: Sequence[Points]) -> list[tuple[float, float]]:
    steps: dict[float, list[float]] = {}
    for points in curves:
        for x, y in points:
            if math.isfinite(y):
                steps.setdefault(x, []).append(y)
    return [(x, sum(ys) / len(ys)) for x, ys in sorted(steps.items())]


def _band_by_step(curves: Sequence[Points]) -> list[tuple[float, float, float]]:
    steps: dict[float, list[float]] = {}
    for points in curves:
        for x, y in points:
            if math.isfinite(y):
                steps.setdefault(x, []).append(y)
    return [(x, min(ys), max(ys)) for x, ys in sorted(steps.items()) if len(ys) > 1]


def _mean_by_position(curves: Sequence[Points]) -> list[tuple[float, float]]:
    """Validation points (one per epoch) averaged epoch by epoch, at the mean of their steps."""
    length = min(len(points) for points in curves)
    return [
        (sum(p[i][0] for p in curves) / len(curves), sum(p[i][1] for p in curves) / len(curves))
        for i in range(length)
    ]


def scale_groups(
    names: Sequence[str], levels: Mapping[str, float | None], kinds: Mapping[str, Kind], max_panels: int
) -> list[list[str]]:
    """Curves that can share a y axis, in the order of `names`.

    Two curves share one when they measure the same kind of model (the same metric names on their epoch
    rows: two classifiers compared, however far apart their losses), or when their typical losses are within
    `SCALE_RATIO` of each other and neither kind says otherwise (a curve before its first epoch row). Past
    `max_panels`, the groups closest in scale are merged.
    """
    groups: list[list[str]] = []
    for name in names:
        joined = [g for g in groups if any(_same_scale(name, other, levels, kinds) for other in g)]
        merged = [name] if not joined else [n for g in joined for n in g] + [name]
        groups = [g for g in groups if g not in joined] + [merged]
    groups.sort(key=lambda g: min(names.index(n) for n in g))
    while len(groups) > max(max_panels, 1):
        i, j = min(
            combinations(range(len(groups)), 2), key=lambda p: _gap(groups[p[0]], groups[p[1]], levels)
        )
        groups[i] += groups.pop(j)
    return [[n for n in names if n in g] for g in groups]


def _same_scale(a: str, b: str, levels: Mapping[str, float | None], kinds: Mapping[str, Kind]) -> bool:
    if a in kinds and b in kinds:
        return kinds[a] == kinds[b]
    level_a, level_b = levels.get(a), levels.get(b)
    if level_a is None or level_b is None:
        return True  # nothing drawn yet: no reason to spend a panel on it
    return abs(level_a - level_b) <= math.log10(SCALE_RATIO)


def _gap(a: list[str], b: list[str], levels: Mapping[str, float | None]) -> float:
    """How far apart two groups' scales are (in decades); 0 when one has nothing drawn yet."""
    level_a = [level for n in a if (level := levels.get(n)) is not None]
    level_b = [level for n in b if (level := levels.get(n)) is not None]
    if not level_a or not level_b:
        return 0.0
    return min(abs(x - y) for x in level_a for y in level_b)


def _level(points: Points) -> float | None:
    """log10 of a curve's median loss: where on a log scale it mostly lives."""
    values = sorted(abs(y) for _, y in points if math.isfinite(y))
    if not values:
        return None
    return math.log10(max(values[len(values) // 2], 1e-12))


def _shares(total: int, count: int) -> list[int]:
    """`total` rows split into `count` panels, the first ones taking the remainder."""
    return [total // count + (1 if i < total % count else 0) for i in range(count)]


def kinds_of(epochs: Sequence[Mapping[str, object]]) -> dict[str, Kind]:
    """Each curve's kind from a saved run's epoch rows (`RunRecord.epochs`)."""
    return {str(row.get("series", "train")): _kind(row.get("metrics")) for row in epochs}


def _kind(metrics: object) -> Kind:
    return tuple(sorted(metrics)) if isinstance(metrics, Mapping) else ()


def robust_top(series: Sequence[Series]) -> float | None:
    """A y-axis top that ignores the first few spikes (a fit at a high learning rate starts far up), so the
    part of the curves worth reading fills the chart."""
    values = sorted(y for s in series for _, y in s.points if math.isfinite(y))
    if len(values) < 20:
        return None
    return values[int(0.98 * (len(values) - 1))] * 1.1


def lr_finder_chart(
    lr_finder: Points,
    markers: Sequence[Marker],
    overlay_lr: Points = (),
    width: int = 60,
    height: int = 12,
    overlay_name: str = "previous run",
) -> Text:
    """Loss against a log-scaled learning rate, cut off a little above where the sweep began."""
    series = [Series(overlay_name, overlay_lr, OVERLAY_STYLE)] if overlay_lr else []
    series.append(Series("loss vs lr", lr_finder, "cyan"))
    first = lr_finder[0][1]
    lowest = min(y for _, y in lr_finder)
    y_max = first + (first - lowest) * 0.5 if first > lowest else None
    return render_chart(
        series, width, height, log_x=True, markers=markers, y_max=y_max, x_label="learning rate"
    )
