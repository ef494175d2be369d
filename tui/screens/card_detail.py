"""One card in detail: its text, where it is written (`e` edits it), its lab (`l`), its state, every
review and a chart of its retrievability over time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Rule, Static

from cards import cloze
from cards.query import CardMatch, forgetting_curve
from cards.store import ReviewRow
from cards.study_day import format_interval, to_ms
from tui.card_rows import cells, short_path
from tui.editor import edit_card
from tui.services import Services, services_of
from tui.widgets.card_text import CardText
from tui.widgets.key_hints import KeyHints
from tui.widgets.recall_chart import RecallChart
from tui.widgets.safe_text import literal, one_line

GRADE_NAMES = {1: "Again", 2: "Hard", 3: "Good", 4: "Easy"}
HISTORY_COLUMNS = ("Date", "Grade", "Elapsed", "Interval given", "Duration")


def history_rows(reviews: list[ReviewRow], tz: tzinfo | None) -> list[tuple[str, str, str, str, str]]:
    """(date, grade, days since the previous review, interval the answer gave, time taken) per review."""
    rows = []
    previous: int | None = None
    for review in reviews:
        moment = datetime.fromtimestamp(review.reviewed_at_ms / 1000, UTC).astimezone(tz)
        elapsed = "—" if previous is None else f"{(review.reviewed_at_ms - previous) / 86_400_000:.1f}d"
        interval = format_interval(timedelta(milliseconds=review.due_after_ms - review.reviewed_at_ms))
        rows.append(
            (
                moment.strftime("%Y-%m-%d %H:%M"),
                GRADE_NAMES.get(review.rating, str(review.rating)),
                elapsed,
                interval,
                f"{review.duration_ms / 1000:.1f}s",
            )
        )
        previous = review.reviewed_at_ms
    return rows


class CardDetailScreen(Screen[None]):
    CSS_PATH = "card_detail.tcss"
    BINDINGS = [
        Binding("e", "edit", "Edit", id="detail.edit", tooltip="Open the card's file at its line in $EDITOR"),
        Binding("l", "lab", "Lab", id="detail.lab", tooltip="Open the runnable lab of this card"),
        Binding("escape", "app.pop_screen", "Back", id="detail.back", tooltip="Back to the browser"),
    ]

    def __init__(self, match: CardMatch) -> None:
        super().__init__()
        self.match = match
        self.card = match.card

    @property
    def services(self) -> Services:
        return services_of(self)

    def compose(self) -> ComposeResult:
        yield Static(id="title")
        with VerticalScroll(id="detail"):
            yield Static(id="facts")
            if self.card is not None:
                yield CardText(cloze.render_front(self.card), id="front")
                yield Rule()
                yield CardText(cloze.render_back(self.card), id="back")
            yield Static("Retrievability", classes="heading")
            yield RecallChart(id="chart")
            yield Static(id="history-heading", classes="heading")
            yield DataTable(id="history", cursor_type="none", zebra_stripes=True, show_cursor=False)
        yield KeyHints()

    def on_mount(self) -> None:
        app = self.services
        match = self.match
        self.query_one("#title", Static).update(
            Content.assemble(
                (one_line(match.pack_id), "bold"), " / ", (one_line(match.card_id), "bold $accent")
            )
        )
        self.query_one("#facts", Static).update(self._facts())
        reviews = app.store.reviews(match.pack_id, match.card_id)
        tz = app.config.tzinfo()
        table = self.query_one("#history", DataTable)
        for heading in HISTORY_COLUMNS:
            table.add_column(heading)
        for row in history_rows(reviews, tz):
            table.add_row(*(Text(cell) for cell in row))
        count = len(reviews)
        self.query_one("#history-heading", Static).update(
            f"History: {count} review{'' if count == 1 else 's'}"
        )
        decay, factor = forgetting_curve(app.config)
        points = [(review.reviewed_at_ms, review.stability_after) for review in reviews]
        self.query_one(RecallChart).show(points, to_ms(app.now()), decay, factor, tz)

    def _facts(self) -> Content:
        match, card = self.match, self.card
        texts = cells(match, self.services.now())
        state = (
            f"{texts['state']}   due {texts['due']}   interval {texts['interval']}   stability {texts['stability']}"
            f"   difficulty {texts['difficulty']}   recall now {texts['retrievability']}"
            f"   {texts['reviews']} review{'' if texts['reviews'] == '1' else 's'},"
            f" {texts['lapses']} lapse{'' if texts['lapses'] == '1' else 's'}"
        )
        lines: list[Content | str | tuple[str, str]] = [literal(state)]
        if match.flags:
            lines += ["\n", (" ".join(match.flags), "bold $warning")]
        if card is None:
            lines += [
                "\n",
                literal("This card is in no loaded pack: its history is kept (x in the browser deletes it)."),
            ]
            return Content.assemble(*lines)
        lines += ["\n", ("e", "bold $accent"), " ", literal(f"{short_path(card.file)}:{card.line}")]
        if card.lab:
            lines += ["   ", ("l", "bold $accent"), " ", literal(f"lab: {one_line(card.lab)}")]
        if card.tags:
            lines += ["   ", (one_line(" ".join(f"#{tag}" for tag in card.tags)), "dim")]
        return Content.assemble(*lines)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "edit":
            return self.card is not None
        if action == "lab":
            return self.card is not None and bool(self.card.lab)
        return True

    def action_edit(self) -> None:
        if self.card is not None:
            edit_card(self.app, self.card)

    async def action_lab(self) -> None:
        if self.card is not None and self.card.lab:
            await self.app.run_action(f"open_lab({self.card.lab!r}, {self.card.id!r})")
