"""Statistics: today, true retention, the due forecast, the review heatmap, packs and orphaned history."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Static

from cards.stats import Stats, collect_stats
from tui.services import services_of
from tui.store_errors import ShowsStoreErrors
from tui.widgets.bars import BarChart
from tui.widgets.heatmap import Heatmap
from tui.widgets.key_hints import KeyHints
from tui.widgets.safe_text import literal, one_line

ORPHANS_SHOWN = 20


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
    lines = [f"{len(stats.orphaned)} cards were reviewed but are no longer in any pack (history kept):"]
    for ref in stats.orphaned[:ORPHANS_SHOWN]:
        last = ref.last_review.date().isoformat() if ref.last_review else "never"
        lines.append(
            f"  {one_line(ref.pack_id)} / {one_line(ref.card_id)}: {ref.reviews} reviews, last {last}"
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
        yield KeyHints()

    def on_mount(self) -> None:
        self.query_one("#overview").border_title = "Today"
        self.query_one("#forecast").border_title = "Due in the next 30 days"
        self.query_one("#heatmap").border_title = "Reviews per day"
        self.query_one("#pack-stats").border_title = "Packs"
        self.query_one("#orphans").border_title = "Orphaned history"
        table = self.query_one("#pack-stats", DataTable)
        for label in ("Pack", "Cards", "Due", "New today", "Never seen", "Suspended", "Leeches", "Reviews"):
            table.add_column(label, key=label)
        self.action_refresh_stats()

    def action_refresh_stats(self) -> None:
        services = services_of(self)
        stats = collect_stats(services.store, services.library.packs, services.config, clock=services.now)
        self.query_one("#overview", Static).update(overview(stats))
        self.query_one("#forecast", BarChart).update([count for _, count in stats.forecast])
        self.query_one("#heatmap", Heatmap).update(stats.heatmap, stats.today)
        self.query_one("#orphans", Static).update(orphans_text(stats))
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
