"""The first screen: every pack with what is left to study today; enter studies the highlighted one."""

from __future__ import annotations

from collections import Counter

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Static

from cards.study_day import to_ms
from tui.messages import PackReloaded
from tui.services import services_of
from tui.store_errors import ShowsStoreErrors
from tui.widgets.key_hints import KeyHints
from tui.widgets.lab_runs_line import LabRunsLine
from tui.widgets.safe_text import literal, one_line

MAX_PROBLEMS_SHOWN = 200  # lines in the problem box; the rest are counted (`cardlab pack list` shows all)
MIN_NAME_WIDTH = 12  # a pack name is cut to fit the counts, never shorter than this
COLUMNS = (
    ("Pack", "pack"),
    ("New", "new"),
    ("Learning", "learning"),
    ("Due", "due"),
    ("Suspended", "suspended"),
    ("Buried", "buried"),
    ("Cards", "cards"),
)


class HomeScreen(ShowsStoreErrors, Screen[None]):
    CSS_PATH = "home.tcss"
    BINDINGS = [
        Binding("enter", "study_highlighted", "Study", id="home.study", tooltip="Study the highlighted pack"),
        # priority (here and on the study screen): the browser opens as `b` arrives, so the keys typed
        # right after it (`/tag:x`) reach the browser, never this screen's bindings
        Binding(
            "b",
            "app.browse",
            "Browse",
            id="home.browse",
            tooltip="Search every card; unsuspend, reset",
            priority=True,
        ),
        Binding("s", "app.stats", "Stats", id="home.stats", tooltip="Reviews, retention, forecast, heatmap"),
        Binding(
            "l", "app.labs", "Labs", id="home.labs", tooltip="Every lab: train the cards' techniques live"
        ),
        Binding("q", "app.quit", "Quit", id="home.quit", tooltip="Leave cardlab"),
    ]

    def compose(self) -> ComposeResult:
        yield Static(
            Content.assemble(("cardlab", "bold $accent"), "  what is left to study today"), id="title"
        )
        table: DataTable[Text] = DataTable(id="packs", cursor_type="row", zebra_stripes=True)
        yield table
        with VerticalScroll(id="load-errors"):  # scrolls when the problems outgrow its height
            yield Static(id="load-errors-text")
        yield Static(id="hint")
        yield LabRunsLine()  # labs running or ended in the background; hidden while none
        yield KeyHints()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label, key in COLUMNS:
            table.add_column(label, key=key)
        self._show_errors()
        table.focus()

    def on_screen_resume(self) -> None:
        """Also on first show: counts change while studying, so they are recounted on every return."""
        self.refresh_counts()

    def refresh_counts(self) -> None:
        """Fill the table from the store: one row per pack, the highlighted row kept."""
        table = self.query_one(DataTable)
        highlighted = table.cursor_row
        table.clear()
        services = services_of(self)
        library = services.library
        session = services.new_session()
        hidden = services.store.flag_counts(to_ms(services.now()))
        rows = []
        for pack in library.packs:
            counts = session.counts(pack.id)
            suspended, buried = hidden.get(pack.id, (0, 0))
            numbers = (counts.new, counts.learning, counts.review, suspended, buried, len(pack.cards))
            rows.append((pack.id, numbers))
        names = pack_names([(pack.id, pack.title) for pack in library.packs])
        name_width = self._name_width([numbers for _, numbers in rows])
        for (pack_id, (new, learning, due, suspended, buried, cards)), name in zip(rows, names):
            title = Text(name)
            title.truncate(name_width, overflow="ellipsis")
            table.add_row(
                title,
                _number(new, "blue"),
                _number(learning, "red"),
                _number(due, "green"),
                _number(suspended, "yellow"),
                _number(buried, "yellow"),
                Text(str(cards), justify="right", style="dim"),
                key=pack_id,
            )
        if library.packs:
            table.move_cursor(row=min(highlighted, len(library.packs) - 1))
        hint = (
            "enter: study   b: browse   s: stats   l: labs   ?: keys   ctrl+p: commands"
            if library.packs
            else "no packs found"
        )
        self.query_one("#hint", Static).update(hint)

    def _name_width(self, rows: list[tuple[int, ...]]) -> int:
        """The widest pack name that leaves every count column on screen (a long title is cut with "…")."""
        counts = [
            max([len(label), *(len(str(numbers[index])) for numbers in rows)]) + 2  # a cell pads each side
            for index, (label, _) in enumerate(COLUMNS[1:])
        ]
        table_width = self.app.size.width - 4 - 2  # the table's margins; room for a vertical scrollbar
        return max(MIN_NAME_WIDTH, table_width - sum(counts) - 2)

    def on_resize(self) -> None:
        if self.is_current:
            self.refresh_counts()

    def on_pack_reloaded(self, message: PackReloaded) -> None:
        """A pack file was saved: new counts, and its problems (or their absence) in the box."""
        self._show_errors()
        if self.is_current:
            self.refresh_counts()

    def _show_errors(self) -> None:
        errors = services_of(self).library.errors
        box = self.query_one("#load-errors", VerticalScroll)
        box.display = bool(errors)
        if errors:
            box.border_title = f"These packs could not be loaded ({_problems(len(errors))})"
            self.query_one("#load-errors-text", Static).update(literal(problem_lines(errors)))

    async def action_study_highlighted(self) -> None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        assert row_key.value is not None
        await self._study(row_key.value)

    async def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            await self._study(event.row_key.value)

    async def _study(self, pack_id: str) -> None:
        await self.app.run_action(f"study({pack_id!r})")


def pack_names(packs: list[tuple[str, str]]) -> list[str]:
    """Each (id, title)'s name on the home screen: its title, with the id after it where titles clash."""
    titles = [one_line(title) for _, title in packs]
    clashing = Counter(title.casefold() for title in titles)
    return [
        f"{title} ({one_line(pack_id)})" if clashing[title.casefold()] > 1 else title
        for (pack_id, _), title in zip(packs, titles)
    ]


def problem_lines(errors: tuple[str, ...], limit: int = MAX_PROBLEMS_SHOWN) -> str:
    """The problems, one per line, at most `limit`, then how many more there are."""
    shown = list(errors[:limit])
    if len(errors) > limit:
        shown.append(f"… and {_problems(len(errors) - limit)} more: `cardlab pack list` shows them all")
    return "\n".join(shown)


def _problems(count: int) -> str:
    return f"{count} problem" if count == 1 else f"{count} problems"


def _number(value: int, colour: str) -> Text:
    return Text(str(value), justify="right", style=colour if value else "dim")
