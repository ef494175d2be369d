"""The stats screen's charts: the workload box fits and its bars follow its numbers, the heatmap's month
ruler reaches the current month, the forecast's axis on an empty store."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from textual.pilot import Pilot

from cards.fsrs_rs import WorkloadPoint
from tests.tui.study_helpers import SAMPLE_PACK, fixed_clock, make_home, run_async
from tests.tui.test_study_snapshots import seed_history, user_packs_only
from tui.app import CardlabApp, create_app
from tui.widgets.bars import render_bars
from tui.widgets.heatmap import render_heatmap
from tui.widgets.workload import WorkloadChart, render_workload

# The issue's: every row 70-90 % read 0.1 min/day while the bars ran 5.8 to 8 units.
SMALL = [
    WorkloadPoint(0.70, 0.058, 1.0, 5.0),
    WorkloadPoint(0.80, 0.062, 1.0, 6.0),
    WorkloadPoint(0.90, 0.081, 1.2, 6.0),
    WorkloadPoint(0.95, 0.082, 1.3, 6.0),
]


def rows(points: list[WorkloadPoint], width: int = 20) -> list[tuple[int, str]]:
    """(bar length in eighths, the minutes shown) of each row."""
    eighths = dict(zip(" ▏▎▍▌▋▊▉█", range(9)))
    found = []
    for line in render_workload(points, 0.9, width).plain.splitlines()[1:]:
        bar, numbers = line[10 : 10 + width], line[10 + width :].split()
        found.append((sum(eighths.get(cell, 0) for cell in bar), numbers[0]))
    return found


def test_the_workload_bars_follow_the_minutes_they_show() -> None:
    found = rows(SMALL)
    assert [minutes for _, minutes in found] == ["0.058", "0.062", "0.081", "0.082"]  # told apart
    by_minutes = sorted(found, key=lambda row: float(row[1]))
    assert [bar for bar, _ in by_minutes] == sorted(bar for bar, _ in found)
    same = [WorkloadPoint(0.7 + i / 100, 0.10 + i / 1000, 1.0, 5.0) for i in range(4)]  # 0.100 .. 0.103
    assert len({minutes for _, minutes in rows(same)}) == len({bar for bar, _ in rows(same)})
    big = [WorkloadPoint(0.8, 12.34, 50.0, 900.0), WorkloadPoint(0.9, 20.0, 70.0, 950.0)]
    assert [minutes for _, minutes in rows(big)] == ["12.3", "20.0"]


def stats_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CardlabApp:
    monkeypatch.setattr("tui.app.discover_packs", user_packs_only)
    home = make_home(tmp_path / "home", {"sample.toml": SAMPLE_PACK})
    seed_history(home)
    return create_app(home, clock=fixed_clock())


async def open_stats(app: CardlabApp, pilot: Pilot) -> None:
    await pilot.press("s")
    await app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 40), (100, 40), (120, 64)])
@run_async
async def test_the_workload_box_stays_inside_the_screen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]
) -> None:
    app = stats_app(tmp_path, monkeypatch)
    async with app.run_test(size=size) as pilot:
        await open_stats(app, pilot)
        workload = app.screen.query_one("#workload", WorkloadChart)
        assert workload.region.right <= size[0] - 1, (workload.region, size)  # the body's padding
        lines = workload.render().plain.splitlines()
        assert len(lines) == 8 and "◀ now" in lines[5]  # the header and 7 rows, none wrapped
        assert max(len(line) for line in lines) <= workload.content_size.width


def test_the_month_ruler_reaches_the_current_month() -> None:
    for today in (date(2026, 12, 7), date(2026, 12, 3), date(2026, 12, 1), date(2027, 1, 1)):
        ruler = render_heatmap({}, today).plain.splitlines()[0]
        assert ruler.split()[-1] == today.strftime("%b"), (today, ruler)
        months = ruler.split()
        assert len(months) == len(set(months)) >= 6, ruler
    ruler = render_heatmap({}, date(2026, 3, 12)).plain.splitlines()[0]
    assert ruler.split() == ["Sep", "Oct", "Nov", "Dec", "Jan", "Feb", "Mar"]
    assert ruler.index("Mar") == 4 + 2 * 23  # above the week of Sunday March 1st (two cells a week)


def test_the_forecast_axis_of_an_empty_store_reads_0_to_1() -> None:
    lines = render_bars([0] * 30, height=3).plain.splitlines()
    assert lines[0].startswith("1 │") and lines[3].startswith("0 └")
    assert render_bars([0, 4], height=2).plain.splitlines()[0].startswith("4 │")


def test_counts_of_one_are_singular() -> None:
    from types import SimpleNamespace

    from tui.screens.stats import orphans_text
    from tui.widgets.calibration import calibration_summary

    one = SimpleNamespace(pack_id="gone-pack", card_id="gone", reviews=1, last_review=None)
    text = str(orphans_text(SimpleNamespace(orphaned=[one])))
    assert text.startswith("1 card was reviewed but is no longer in any pack")
    assert "gone-pack / gone: 1 review, last never" in text
    found = SimpleNamespace(fitted=False, reviews=1, log_loss=0.5, rmse_bins=0.1)
    assert calibration_summary(found).startswith("1 answer scored with fsrs' default parameters")


@pytest.mark.parametrize("size", [(80, 40), (140, 40)])
@run_async
async def test_todays_numbers_and_the_forecast_sit_side_by_side_only_where_both_fit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]
) -> None:
    app = stats_app(tmp_path, monkeypatch)
    async with app.run_test(size=size) as pilot:
        await open_stats(app, pilot)
        overview, forecast = app.screen.query_one("#overview"), app.screen.query_one("#forecast")
        assert forecast.region.right <= size[0] - 1, (forecast.region, size)  # at 80 it ran past the edge
        side_by_side = forecast.region.y == overview.region.y
        assert side_by_side == (size[0] >= 140), (overview.region, forecast.region)
