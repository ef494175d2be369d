"""The card browser: search every card (docs/study.md), sort by a column, select, act on the selection.

The query runs in SQL (`cards.query`); the table shows the first ROW_LIMIT matches of the current sort
and says how many there are, so a 100,000-card home opens as fast as a small one. `space` marks rows,
`a` marks every match (also those past the limit); actions apply to the marked cards, else to the
highlighted one, and a toast says how many changed. Dismissed with True when anything changed, so the
screen below can reload its queue.

Keys typed after `/` go to the search box whatever the timing: `/` (and `escape`, which leaves the box) are
priority bindings that move the focus at once, before the keys queued behind them are handed to a widget,
and a key that still reached the table or the screen while the box claims the keys (typed before this
screen had mounted, in a burst after the `b` that opened it) is passed on to the box. A search keystroke
never acts on a card.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from cards.card_actions import apply_action, delete_orphans
from cards.query import SORT_KEYS, CardMatch, Query, QueryError, matching_keys, parse_query, search
from cards.store import StoreError
from tui.card_rows import COLUMNS, DONE, cells
from tui.services import Services, services_of
from tui.widgets.key_hints import KeyHints
from tui.widgets.safe_text import literal, one_line

if TYPE_CHECKING:
    from datetime import datetime


# Rows in the table: the first of the current sort (sort or refine to see others). DataTable measures every
# cell, so this bounds the time to open: ~1 ms a row here, whatever the number of cards.
ROW_LIMIT = 200
MARK = "✓"
KEY_SEPARATOR = "\x1f"  # card ids are slugs: no unit separator in them
RIGHT_ALIGNED = {"stability", "difficulty", "retrievability", "reviews", "lapses"}


def row_key(key: tuple[str, str]) -> str:
    return KEY_SEPARATOR.join(key)


# The key events the search box was given (weakly: a key is forgotten once handled), so the screen can tell
# a key bubbling up from the box from one typed for the box that reached the screen before the box had focus.
_TYPED_IN_THE_BOX: weakref.WeakSet[events.Key] = weakref.WeakSet()


class SearchBox(Input):
    """The query input; it notes each key it is given (Input's own handler then runs as usual)."""

    async def _on_key(self, event: events.Key) -> None:  # Textual calls Input._on_key after this one
        _TYPED_IN_THE_BOX.add(event)


class BrowserScreen(Screen[bool]):
    CSS_PATH = "browser.tcss"
    AUTO_FOCUS = "#cards"  # never the search box unasked: a key meant for the table would be typed there
    # The footer shows the keys that fit 80 columns; `?` lists them all (unsuspend, unbury, due today, reset,
    # delete orphans and reverse sort too), as does the palette.
    BINDINGS = [
        # priority: handled as the key arrives, so the keys typed after it are handed to the search box
        Binding(
            "slash", "focus_query", "Search", id="browser.search", tooltip="Edit the query", priority=True
        ),
        Binding(
            "enter", "open_detail", "Detail", id="browser.detail", tooltip="The card, its history and chart"
        ),
        Binding(
            "space", "toggle_mark", "Mark", id="browser.mark", tooltip="Mark or unmark the highlighted card"
        ),
        Binding("a", "mark_all", "Mark all", id="browser.mark_all", tooltip="Mark every match (again: none)"),
        Binding("o", "sort_next", "Sort", id="browser.sort", tooltip="Sort by the next column"),
        Binding("O", "reverse_sort", "Reverse", id="browser.reverse", tooltip="Reverse the sort", show=False),
        Binding("s", "act('suspend')", "Suspend", id="browser.suspend", tooltip="Suspend the marked cards"),
        Binding(
            "u",
            "act('unsuspend')",
            "Unsuspend",
            id="browser.unsuspend",
            tooltip="Unsuspend the marked cards",
            show=False,
        ),
        Binding(
            "b", "act('bury')", "Bury", id="browser.bury", tooltip="Hide the marked cards until tomorrow"
        ),
        Binding(
            "B",
            "act('unbury')",
            "Unbury",
            id="browser.unbury",
            tooltip="Show buried cards again today",
            show=False,
        ),
        Binding(
            "t",
            "act('due-today')",
            "Due today",
            id="browser.due_today",
            tooltip="Make the marked cards due now",
            show=False,
        ),
        Binding(
            "r",
            "confirm('reset')",
            "Reset",
            id="browser.reset",
            tooltip="Forget the schedule: new again",
            show=False,
        ),
        Binding(
            "x",
            "confirm('delete-orphans')",
            "Delete orphans",
            id="browser.delete_orphans",
            tooltip="Delete the history of marked cards that are in no pack",
            show=False,
        ),
        # priority too: leaving the search box happens as escape arrives, so the keys typed after it act
        Binding(
            "escape",
            "close",
            "Back",
            id="browser.close",
            tooltip="Back to the previous screen",
            priority=True,
        ),
    ]

    def __init__(self, query: str = "") -> None:
        super().__init__()
        self.query_text = query
        self.order = "pack"
        self.descending = False
        self.rows: dict[str, CardMatch] = {}
        self.marked: set[tuple[str, str]] = set()
        self.changed = False
        self._query: Query = parse_query("")
        self._total = 0  # matches of the last query, also those past ROW_LIMIT
        self._covered = False  # a detail screen was pushed over this one
        self._searching = False  # the search box claims the keys typed (from `/` until it loses focus)

    @property
    def services(self) -> Services:
        return services_of(self)

    def compose(self) -> ComposeResult:
        yield Static(literal("Browse cards"), id="title")
        yield SearchBox(
            value=self.query_text,
            placeholder='words  "a phrase"  pack:ID  tag:NAME  card:ID  is:due  prop:r<0.8  -term  or',
            id="query",
        )
        yield Static(id="query-problem")
        yield DataTable(id="cards", cursor_type="row", zebra_stripes=True)
        yield Static(id="summary")
        yield KeyHints()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column(" ", key="mark", width=1)
        for key, heading in COLUMNS:
            table.add_column(heading, key=key)
        self.run_query(self.query_text)
        # at once (Widget.focus would wait for the keys already queued, which would reach the search box
        # while Textual's auto focus had put it there); the box when `/` came before this screen mounted
        self.set_focus(self.query_one("#query", Input) if self._searching else table)

    # -- querying -------------------------------------------------------------------------------

    @on(Input.Submitted, "#query")
    def _query_submitted(self, event: Input.Submitted) -> None:
        if self.run_query(event.value):
            self._searching = False
            self.set_focus(self.query_one(DataTable))  # at once: the next key is for the table

    def run_query(self, text: str) -> bool:
        """Parse and show `text`; a bad query is explained under the input and the table is kept."""
        problem = self.query_one("#query-problem", Static)
        try:
            self._query = parse_query(text)
        except QueryError as err:
            problem.update(literal(f"{err}\n{err.pointer()}"))
            problem.display = True
            return False
        problem.display = False
        self.query_text = text
        self.refresh_rows()
        return True

    def refresh_rows(self) -> None:
        """Run the current query and sort again; the highlighted card stays highlighted if it still matches."""
        table = self.query_one(DataTable)
        highlighted = self._highlighted_key()
        try:
            result = search(
                self.services.store,
                self.services.library.packs,
                self._query,
                self.services.now(),
                self.services.config,
                order=self.order,
                descending=self.descending,
                limit=ROW_LIMIT,
            )
        except StoreError as err:
            self.notify(one_line(str(err)), severity="error", markup=False)
            return
        now = self.services.now()
        table.clear()
        self.rows = {}
        for match in result.rows:
            key = row_key(match.key)
            self.rows[key] = match
            table.add_row(*self._cells(match, now), key=key)
        if highlighted is not None and row_key(highlighted) in self.rows:
            table.move_cursor(row=table.get_row_index(row_key(highlighted)))
        self._total = result.total
        self._update_summary()

    def _cells(self, match: CardMatch, now: datetime) -> list[Text]:
        texts = cells(match, now)
        row = [Text(MARK if match.key in self.marked else "", style="bold")]
        for key, _ in COLUMNS:
            style = "yellow" if key == "flags" else ("dim" if texts[key] == "—" else "")
            row.append(
                Text(one_line(texts[key]), style=style, justify="right" if key in RIGHT_ALIGNED else "left")
            )
        return row

    def _update_summary(self) -> None:
        shown, total = len(self.rows), self._total
        matches = f"{total} card{'' if total == 1 else 's'}"
        if shown < total:
            matches += f" (the first {shown} shown: refine the query)"
        arrow = "↓" if self.descending else "↑"
        heading = dict(COLUMNS)[self.order]
        marked = f"   {len(self.marked)} marked" if self.marked else ""
        self.query_one("#summary", Static).update(literal(f"{matches}   sorted by {heading} {arrow}{marked}"))

    def _highlighted_key(self) -> tuple[str, str] | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        match = self.rows.get(key.value or "")
        return match.key if match else None

    def targets(self) -> list[tuple[str, str]]:
        """The marked cards, else the highlighted one."""
        if self.marked:
            return sorted(self.marked)
        highlighted = self._highlighted_key()
        return [highlighted] if highlighted is not None else []

    # -- sorting and marking --------------------------------------------------------------------

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        column = event.column_key.value
        if column in SORT_KEYS:
            self.sort_by(column, not self.descending if column == self.order else False)

    def sort_by(self, column: str, descending: bool = False) -> None:
        self.order, self.descending = column, descending
        self.refresh_rows()

    def action_sort_next(self) -> None:
        keys = [key for key, _ in COLUMNS]
        self.sort_by(keys[(keys.index(self.order) + 1) % len(keys)])

    def action_reverse_sort(self) -> None:
        self.sort_by(self.order, not self.descending)

    def action_toggle_mark(self) -> None:
        key = self._highlighted_key()
        if key is None:
            return
        self.marked.symmetric_difference_update({key})
        table = self.query_one(DataTable)
        table.update_cell(row_key(key), "mark", Text(MARK if key in self.marked else "", style="bold"))
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1)
        self._update_summary()

    def action_mark_all(self) -> None:
        app = self.services
        every = matching_keys(app.store, app.library.packs, self._query, app.now(), app.config)
        self.marked = set() if self.marked >= set(every) and every else set(every)
        self.refresh_rows()

    def action_focus_query(self) -> None:
        """Focus the search box now, not after the keys already queued (Widget.focus waits for them)."""
        self._searching = True
        try:
            box = self.query_one("#query", Input)
        except NoMatches:
            return  # not mounted yet: on_mount focuses the box
        self.set_focus(box)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "focus_query":  # in the box, `/` is a character of the query
            try:
                return self.focused is not self.query_one("#query", Input)  # has_focus lags behind
            except NoMatches:
                return True
        return True

    def on_key(self, event: events.Key) -> None:
        """A key typed for the search box that reached the table or this screen instead: into the box."""
        if not self._searching or event in _TYPED_IN_THE_BOX:
            return
        event.stop()
        event.prevent_default()
        box = self.query_one("#query", Input)
        if self.focused is not box:
            self.set_focus(box)
        box.post_message(events.Key(event.key, event.character))

    # The box was focused (a click) or left (a click, tab) another way; these events come late, so only
    # what is focused now counts.
    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self._searching = isinstance(self.focused, SearchBox)

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        self._searching = isinstance(self.focused, SearchBox)

    # -- acting ---------------------------------------------------------------------------------

    def action_act(self, action: str) -> None:
        keys = self.targets()
        if not keys:
            self.notify("no card to act on", severity="warning")
            return
        app = self.services
        try:
            changed = apply_action(app.store, app.library.packs, keys, action, app.now(), app.config)
        except StoreError as err:
            self.notify(one_line(str(err)), title="Not saved", severity="error", markup=False)
            return
        self.changed = self.changed or changed > 0
        self.notify(f"{DONE[action]}: {changed} of {len(keys)} card{'' if len(keys) == 1 else 's'} changed")
        self.refresh_rows()

    def action_confirm(self, action: str) -> None:
        from tui.screens.confirm import Confirm

        keys = self.targets()
        if action == "delete-orphans":
            keys = [key for key in keys if key in self._orphans(keys)]
            if not keys:
                self.notify("none of these cards is orphaned: nothing to delete", severity="warning")
                return
            question = (
                f"Delete the history (state and every review) of {len(keys)} card{'' if len(keys) == 1 else 's'} "
                "that are in no pack? This cannot be undone."
            )
        else:
            if not keys:
                self.notify("no card to act on", severity="warning")
                return
            question = (
                f"Reset {len(keys)} card{'' if len(keys) == 1 else 's'} to new? Their schedule is forgotten; "
                "their reviews stay in the log."
            )

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            if action == "delete-orphans":
                self._delete_orphans(keys)
            else:
                self.action_act(action)

        self.app.push_screen(Confirm(question), callback=answered)

    def _orphans(self, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
        loaded = {(pack.id, card.id) for pack in self.services.library.packs for card in pack.cards}
        return {key for key in keys if key not in loaded}

    def _delete_orphans(self, keys: list[tuple[str, str]]) -> None:
        try:
            states, reviews = delete_orphans(self.services.store, self.services.library.packs, keys)
        except StoreError as err:
            self.notify(one_line(str(err)), title="Not saved", severity="error", markup=False)
            return
        self.changed = self.changed or states > 0
        self.marked -= set(keys)
        self.notify(
            f"deleted the history of {states} card{'' if states == 1 else 's'} "
            f"({reviews} review{'' if reviews == 1 else 's'})"
        )
        self.refresh_rows()

    def action_open_detail(self) -> None:
        from tui.screens.card_detail import CardDetailScreen

        key = self._highlighted_key()
        if key is not None:
            self.app.push_screen(CardDetailScreen(self.rows[row_key(key)]))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_detail()

    def on_screen_suspend(self) -> None:
        self._covered = True

    def on_screen_resume(self) -> None:
        if getattr(
            self, "_covered", False
        ):  # back from the detail (an edit, a lab): the state may have moved
            self.refresh_rows()

    def action_close(self) -> None:
        """Leave the search box (for the table), else the browser."""
        box: Input | None = None
        table: DataTable[Text] | None = None
        try:
            box, table = self.query_one("#query", Input), self.query_one(DataTable)
        except NoMatches:  # escape before this screen was built: on_mount then focuses the table
            pass
        if self._searching or (box is not None and self.focused is box):
            self._searching = False
            if table is not None:
                self.set_focus(table)
            return
        self.dismiss(self.changed)
