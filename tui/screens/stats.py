"""Statistics: today, true retention, the due forecast, the review heatmap, packs and orphaned history;
then how well FSRS predicts this user (calibration), true retention by month, and the simulated workload
against desired retention. Those last two need the whole history or fsrs-rs' simulator, so a worker
thread computes them after the screen opens.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from cards.fsrs_rs import WorkloadPoint
from cards.fsrs_stats import Calibration, calibration_from, months_from, request, workload_point_from
from cards.stats import MonthRetention, Stats, collect_stats
from tui.services import services_of
from tui.store_errors import ShowsStoreErrors
from tui.widgets.bars import BarChart
from tui.widgets.calibration import CalibrationChart, render_retention_by_month
from tui.widgets.heatmap import Heatmap
from tui.widgets.key_hints import KeyHints
from tui.widgets.safe_text import literal, one_line
from tui.widgets.workload import WorkloadChart

ORPHANS_SHOWN = 20
# Terminal width from which retention by month (~50 cells) and the workload (its columns and a 6-cell bar)
# fit side by side.
SIDE_BY_SIDE_WIDTH = 110
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding `cards`, for the child


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p)
    return env


def retention_text(stats: Stats) -> str:
    if stats.retention is None:
        return "none yet (no reviews of mature cards)"
    return f"{stats.retention:.1%} of {stats.retention_reviews} recalled"


def spent_text(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


def overview(stats: Stats) -> Content:
    """The headline numbers, one per line."""
    rows = (
        ("Reviews today", f"{stats.reviews_today}  ({spent_text(stats.seconds_today)})"),
        ("Retention 30d", retention_text(stats)),
        ("Due today", str(stats.due_today)),
        ("New today", f"{stats.new_today} seen, {stats.new_available} more available"),
        ("Never seen", str(stats.never_seen)),
        ("Reviews in all", str(stats.reviews_total)),
    )
    return Content("\n").join(Content.assemble((f"{label:<15}", "bold"), value) for label, value in rows)


def orphans_text(stats: Stats) -> Content:
    """Review history of cards no longer in any pack: kept in the store, listed here."""
    if not stats.orphaned:
        return Content("No orphaned history: every reviewed card is still in a pack.")
    count = len(stats.orphaned)
    lines = [
        "1 card was reviewed but is no longer in any pack (history kept):"
        if count == 1
        else f"{count} cards were reviewed but are no longer in any pack (history kept):"
    ]
    for ref in stats.orphaned[:ORPHANS_SHOWN]:
        last = ref.last_review.date().isoformat() if ref.last_review else "never"
        lines.append(
            f"  {one_line(ref.pack_id)} / {one_line(ref.card_id)}: "
            f"{ref.reviews} review{'' if ref.reviews == 1 else 's'}, last {last}"
        )
    if len(stats.orphaned) > ORPHANS_SHOWN:
        lines.append(f"  … and {len(stats.orphaned) - ORPHANS_SHOWN} more (cardlab stats --json lists all)")
    return literal("\n".join(lines))


class StatsScreen(ShowsStoreErrors, Screen[None]):
    CSS_PATH = "stats.tcss"
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", id="stats.back", tooltip="Back to the previous screen"),
        Binding("r", "refresh_stats", "Refresh", id="stats.refresh", tooltip="Recount from the review store"),
    ]

    def compose(self) -> ComposeResult:
        yield Static(Content.assemble(("Statistics", "bold $accent")), id="stats-title")
        with VerticalScroll(id="stats-body"):
            with Horizontal(id="stats-top"):
                yield Static(id="overview", classes="panel")
                yield BarChart(id="forecast", classes="panel")
            yield Heatmap(id="heatmap", classes="panel")
            yield DataTable(id="pack-stats", cursor_type="none", zebra_stripes=True, classes="panel")
            yield Static(id="orphans", classes="panel")
            yield CalibrationChart(id="calibration", classes="panel")
            with Horizontal(id="stats-memory"):
                yield Static(Content("Counting…"), id="retention-months", classes="panel")
                yield WorkloadChart(id="workload", classes="panel")
        yield KeyHints()

    def on_mount(self) -> None:
        self.query_one("#overview").border_title = "Today"
        self.query_one("#forecast").border_title = "Due in the next 30 days"
        self.query_one("#heatmap").border_title = "Reviews per day"
        self.query_one("#pack-stats").border_title = "Packs"
        self.query_one("#orphans").border_title = "Orphaned history"
        self.query_one("#calibration").border_title = "Predicted vs actual recall"
        self.query_one("#retention-months").border_title = "True retention by month"
        self.query_one("#workload").border_title = "Workload against desired retention (a simulated year)"
        table = self.query_one("#pack-stats", DataTable)
        for label in ("Pack", "Cards", "Due", "New today", "Never seen", "Suspended", "Leeches", "Reviews"):
            table.add_column(label, key=label)
        self.action_refresh_stats()

    def on_resize(self) -> None:
        self._fit_rows()

    def _fit_rows(self) -> None:
        """Each row's two panels side by side where both fit, else one under the other: at 80 columns
        today's numbers and the forecast had run past the edge, the forecast cut to its first bars."""
        width = self.app.size.width
        self.query_one("#stats-memory", Horizontal).set_class(width < SIDE_BY_SIDE_WIDTH, "-stacked")
        top = self.query_one("#stats-top", Horizontal)
        needed = sum(panel.outer_size.width + panel.styles.margin.width for panel in top.children)
        top.set_class(needed > self.query_one("#stats-body").scrollable_content_region.width, "-stacked")

    def action_refresh_stats(self) -> None:
        services = services_of(self)
        stats = collect_stats(services.store, services.library.packs, services.config, clock=services.now)
        self.query_one("#overview", Static).update(overview(stats))
        self.query_one("#forecast", BarChart).update([count for _, count in stats.forecast])
        self.query_one("#heatmap", Heatmap).update(stats.heatmap, stats.today)
        self.query_one("#orphans", Static).update(orphans_text(stats))
        self.call_after_refresh(self._compute_memory_stats)  # the counts are drawn before it starts
        self.call_after_refresh(self._fit_rows)  # the numbers' width decides whether the forecast fits beside
        table = self.query_one("#pack-stats", DataTable)
        table.clear()
        for pack in stats.packs.values():
            numbers = (
                pack.cards,
                pack.due_today,
                pack.new_today,
                pack.never_seen,
                pack.suspended,
                pack.leeches,
            )
            cells = [Text(str(n), justify="right") for n in (*numbers, pack.reviews_total)]
            table.add_row(Text(one_line(pack.pack_id)), *cells)

    @work(thread=True, exclusive=True, group="memory-stats")
    def _compute_memory_stats(self) -> None:
        """Retention by month, calibration, then one simulated year per desired retention, from a child
        process (fsrs-rs holds Python's lock while it works, which would freeze this screen)."""
        services, worker = services_of(self), get_current_worker()
        packs = services.library.packs
        ask = request(
            services.store.path, services.config, sum(len(pack.cards) for pack in packs), len(packs)
        )
        child = subprocess.Popen(
            [sys.executable, "-m", "cards.fsrs_stats"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=_child_env(),
        )
        try:
            assert child.stdin is not None and child.stdout is not None  # both are pipes
            child.stdin.write(ask + "\n")
            child.stdin.close()
            points: list[WorkloadPoint] = []
            for line in child.stdout:
                if worker.is_cancelled:  # the screen was left or refreshed
                    return
                self.app.call_from_thread(self._show_answer, json.loads(line), points)
        finally:
            child.kill()
            child.wait()
        self.app.call_from_thread(self._show_workload, points, True)

    def _show_answer(self, answer: dict[str, Any], points: list[WorkloadPoint]) -> None:
        if "months" in answer:
            self._show_months(months_from(answer["months"]))
        elif "calibration" in answer:
            self._show_calibration(calibration_from(answer["calibration"]))
        elif "workload" in answer:
            points.append(workload_point_from(answer["workload"]))
            self._show_workload(points, False)
        elif "error" in answer and self.is_attached:
            self.query_one("#calibration", CalibrationChart).failed(answer["error"])

    def _show_months(self, months: list[MonthRetention]) -> None:
        if self.is_attached:
            self.query_one("#retention-months", Static).update(render_retention_by_month(months))

    def _show_calibration(self, found: Calibration | None) -> None:
        if self.is_attached:
            self.query_one("#calibration", CalibrationChart).update(found)

    def _show_workload(self, points: list[WorkloadPoint], done: bool) -> None:
        if self.is_attached:
            chart = self.query_one("#workload", WorkloadChart)
            chart.update(points, services_of(self).config.desired_retention, done)
