"""A live 30-series chart: our LossChart against textual-plotext's PlotextPlot, redraw and import cost.

Issue 24 asks whether to adopt a Textual plotting widget or keep `tui/widgets/loss_chart.py`, decided by a
measurement. Both charts are mounted alone in a headless app at 120x36 and fed the discriminative-lr case:
3 ratios x 5 seeds x train/valid = 30 series of `--points` points each. One redraw appends a point to every
series, marks the widget for repaint and renders all its lines (`render_ms`: the widget's own work, with a
check that `render()` ran once per redraw); `frame_ms` is the same redraw the app's way: update, mark for
repaint, and let the app render, compose and write the frame (`pilot.pause()`). Medians of `--redraws` redraws after 3 unmeasured ones. LossChart is measured twice: as
the lab screen draws seeds (one mean line per arm with its spread, `by_arm`) and with every seed's curve
(`per_seed`, 30 lines: the like-for-like case). PlotextPlot gets the same 30 series as braille lines,
re-plotted each redraw (plotext keeps no appendable series).

Start-up: importing each chart's module in a fresh process after `textual.app` and `textual.widget` (which
the app loads anyway): `importtime_ms`, the `-X importtime` cumulative time of the modules that import
pulls in, and `wall_ms`, the import timed inside the process; medians of `--imports` processes each.

Our chart is always measured; textual-plotext only where it is importable (it is not a cardlab
dependency: use a scratch venv holding textual, rich and textual-plotext). Prints one JSON object last.

    .venv/bin/python bench/chart_redraw.py [--points 200,1000] [--redraws 40] [--imports 5]
    /work/plot-venv/bin/python bench/chart_redraw.py   # both charts
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textual.app import App, ComposeResult  # noqa: E402
from textual.geometry import Region  # noqa: E402
from textual.widget import Widget  # noqa: E402

from labs.events import SEED_MARK  # noqa: E402
from tui.widgets.loss_chart import LossChart  # noqa: E402

SIZE = (120, 36)
RATIOS = ("ratio 1", "ratio 2.6", "ratio 10")
SEEDS = range(5)
WARM_UP = 3
TEXTUAL = "import textual.app, textual.widget"
CHART_MODULES = {"loss_chart": "tui.widgets.loss_chart", "plotext": "textual_plotext"}

Curves = dict[str, list[tuple[float, float]]]


def has_plotext() -> bool:
    return importlib.util.find_spec("textual_plotext") is not None


def start_curves(points: int, rng: random.Random) -> tuple[Curves, Curves]:
    """Train and valid curves of every ratio and seed: 30 series of `points` falling, noisy losses."""
    train: Curves = {}
    valid: Curves = {}
    for ratio_index, ratio in enumerate(RATIOS):
        for seed in SEEDS:
            name = f"{ratio}{SEED_MARK}{seed}"
            train[name] = [(step, _loss(step, ratio_index, rng)) for step in range(1, points + 1)]
            valid[name] = [(step, _loss(step, ratio_index, rng) + 0.05) for step in range(1, points + 1)]
    return train, valid


def _loss(step: int, ratio_index: int, rng: random.Random) -> float:
    return 0.3 + 0.1 * ratio_index + 0.7 / math.sqrt(step) + rng.gauss(0, 0.02)


def append_point(curves: Curves, ratio_index_of: Callable[[str], int], rng: random.Random) -> None:
    for name, points in curves.items():
        step = int(points[-1][0]) + 1
        points.append((step, _loss(step, ratio_index_of(name), rng)))


def ratio_index(name: str) -> int:
    return RATIOS.index(name.partition(SEED_MARK)[0])


class ChartApp(App[None]):
    CSS = "Screen { layout: vertical; } #chart { width: 1fr; height: 1fr; }"

    def __init__(self, chart: Widget) -> None:
        super().__init__()
        self.chart = chart

    def compose(self) -> ComposeResult:
        yield self.chart


class OurChart:
    """LossChart fed as the lab screen feeds it: the run's curves, every seed named "ARM · seed N"."""

    def __init__(self, per_seed: bool) -> None:
        self.widget = LossChart(id="chart")
        self.widget.per_seed = per_seed

    def update(self, train: Curves, valid: Curves) -> None:
        self.widget.curves, self.widget.valid_curves = train, valid


class PlotextChart:
    """PlotextPlot re-plotted with the same 30 series (plotext's figure is rebuilt from its data)."""

    def __init__(self) -> None:
        from textual_plotext import PlotextPlot

        self.widget = PlotextPlot(id="chart")

    def update(self, train: Curves, valid: Curves) -> None:
        plt = self.widget.plt
        plt.clear_data()
        for kind, curves in (("train", train), ("valid", valid)):
            for name, points in curves.items():
                xs, ys = zip(*points, strict=True)
                plt.plot(xs, ys, marker="braille", label=f"{name} {kind}")


async def measure_redraws(chart: OurChart | PlotextChart, points: int, redraws: int) -> dict[str, object]:
    rng = random.Random(0)
    train, valid = start_curves(points, rng)
    renders = [0]
    real_render = chart.widget.render

    def counted_render():  # type: ignore[no-untyped-def]
        renders[0] += 1
        return real_render()

    chart.widget.render = counted_render  # type: ignore[method-assign]
    app = ChartApp(chart.widget)
    render_ms: list[float] = []
    frame_ms: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        width, height = chart.widget.size
        for index in range(WARM_UP + redraws):
            append_point(train, ratio_index, rng)
            append_point(valid, ratio_index, rng)
            renders[0] = 0
            started = time.perf_counter()
            chart.update(train, valid)
            chart.widget.refresh()
            chart.widget.render_lines(Region(0, 0, width, height))
            rendered = time.perf_counter()
            assert renders[0] == 1, f"render() ran {renders[0]} times in one redraw"
            chart.update(train, valid)
            chart.widget.refresh()
            await pilot.pause()
            framed = time.perf_counter()
            if index >= WARM_UP:
                render_ms.append((rendered - started) * 1000)
                frame_ms.append((framed - rendered) * 1000)
    return {
        "size": [width, height],
        "points_per_series": points + WARM_UP + redraws,
        "render_ms": round(statistics.median(render_ms), 2),
        "frame_ms": round(statistics.median(frame_ms), 2),
    }


def import_costs(module: str, runs: int) -> dict[str, object]:
    """-X importtime of `module` after textual, and the wall time of that import, each in fresh processes."""
    importtime_us = [_importtime_after_textual(module) for _ in range(runs)]
    wall_ms = [_import_wall_ms(module) for _ in range(runs)]
    return {
        "importtime_ms": round(statistics.median(importtime_us) / 1000, 1),
        "wall_ms": round(statistics.median(wall_ms), 1),
    }


def _import_wall_ms(module: str) -> float:
    """Timed inside the process, so that the start-up of Python and textual adds no noise."""
    code = f"{TEXTUAL}; import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True)
    return float(done.stdout.strip().splitlines()[-1]) * 1000


def _importtime_after_textual(module: str) -> int:
    """The summed cumulative time of the top-level imports `import module` made once textual was loaded."""
    marker = "-- textual loaded --"
    code = (
        f"{TEXTUAL}; import sys; sys.stderr.write({marker!r} + chr(10)); sys.stderr.flush(); import {module}"
    )
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], cwd=ROOT, check=True, capture_output=True, text=True
    )
    lines = done.stderr.splitlines()
    total = 0
    for line in lines[lines.index(marker) + 1 :]:
        if line.startswith("import time:") and line.count("|") == 2:
            _, cumulative, name = line.split("|")
            if not name[1:].startswith(" "):  # a top-level import; nested ones are in its cumulative time
                total += int(cumulative)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", default="200,1000", help="points per series before the first redraw")
    parser.add_argument("--redraws", type=int, default=40)
    parser.add_argument("--imports", type=int, default=5, help="fresh processes per import measurement")
    args = parser.parse_args()
    plotext = has_plotext()
    print(
        f"textual-plotext {'importable: measuring both charts' if plotext else 'not importable: our chart only'}"
    )

    charts: dict[str, Callable[[], OurChart | PlotextChart]] = {
        "loss_chart_by_arm": lambda: OurChart(per_seed=False),
        "loss_chart_per_seed": lambda: OurChart(per_seed=True),
    }
    if plotext:
        charts["plotext"] = PlotextChart
    redraw: dict[str, dict[str, object]] = {name: {} for name in charts}
    for points in (int(value) for value in args.points.split(",")):
        for name, make in charts.items():
            result = asyncio.run(measure_redraws(make(), points, args.redraws))
            redraw[name][str(points)] = result
            print(
                f"{name:20} {points:5} points/series: render {result['render_ms']} ms, frame {result['frame_ms']} ms"
            )

    imports = {
        name: import_costs(module, args.imports)
        for name, module in CHART_MODULES.items()
        if name != "plotext" or plotext
    }
    for name, cost in imports.items():
        print(
            f"import {CHART_MODULES[name]}: {cost['importtime_ms']} ms (-X importtime), {cost['wall_ms']} ms wall"
        )

    from importlib.metadata import version

    print(
        json.dumps(
            {
                "python": sys.executable,
                "textual": version("textual"),
                "textual_plotext": version("textual-plotext") if plotext else None,
                "size": list(SIZE),
                "series": len(RATIOS) * len(SEEDS) * 2,
                "redraws": args.redraws,
                "redraw": redraw,
                "import_after_textual": imports,
                "loadavg": [round(value, 2) for value in os.getloadavg()],
            }
        )
    )


if __name__ == "__main__":
    main()
