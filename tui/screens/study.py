"""Studying one pack: front, reveal, grade with the interval each answer would give, like Anki."""

from __future__ import annotations

import time
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from cards.cloze import render_back, render_front
from cards.store import StoreError
from cards.study_day import format_interval
from tui.messages import PackReloaded
from tui.services import services_of
from tui.store_errors import ShowsStoreErrors
from tui.widgets.card_text import CardText
from tui.widgets.key_button import KeyButton
from tui.widgets.key_hints import KeyHints
from tui.widgets.media import media_files, open_in_viewer, show_media
from tui.widgets.safe_text import literal, neutralize_controls, one_line

if TYPE_CHECKING:
    from pathlib import Path

    from cards.pack import Card, Pack
    from cards.schedule import SessionSummary, StudySession
    from tui.screens.custom_study import CustomChoice

GRADES = ((1, "Again"), (2, "Hard"), (3, "Good"), (4, "Easy"))


def grade_label(name: str, rating: int, interval: str) -> str:
    return f"{rating} {name} · {interval}"


CUSTOM_TITLES = {"ahead": "Studying ahead", "forgotten": "Forgotten cards", "cram": "Cram"}


def counts_line(pack_title: str, new: int, learning: int, review: int) -> Content:
    """The header: what is left today, coloured like Anki (new blue, learning red, due green), then the
    pack (last, so a long title is what gets cut on a narrow terminal)."""
    return Content.assemble(
        (f"New {new}", "bold $primary"),
        "  ",
        (f"Learning {learning}", "bold $error"),
        "  ",
        (f"Review {review}", "bold $success"),
        "   ",
        (one_line(pack_title), "bold"),
    )


def custom_line(pack_title: str, mode: str, left: int) -> Content:
    """The header during custom study: which one and how many cards are left in it."""
    note = "  (answers do not change the schedule)" if mode == "cram" else ""
    return Content.assemble(
        (f"{CUSTOM_TITLES[mode]} {left} left", "bold $accent"),
        (note, "dim"),
        "   ",
        (one_line(pack_title), "bold"),
    )


class StudyScreen(ShowsStoreErrors, Screen[None]):
    CSS_PATH = "study.tcss"
    # Textual would focus the card's scroll (the arrow keys scroll a long card) as the screen is built;
    # that restyles the screen and refreshes its bindings, ~2.5 ms before the first card could paint.
    # `_focus_the_card` gives it the same focus once the app's first frame is out.
    AUTO_FOCUS = ""
    BINDINGS = [
        Binding(
            "space,enter", "reveal", "Show answer", id="study.reveal", tooltip="Show the back of the card"
        ),
        Binding("1", "grade(1)", "Again", id="study.again", tooltip="Forgot it: see it again soon"),
        Binding("2", "grade(2)", "Hard", id="study.hard", tooltip="Recalled with serious difficulty"),
        Binding("3", "grade(3)", "Good", id="study.good", tooltip="Recalled after a little thought"),
        Binding("4", "grade(4)", "Easy", id="study.easy", tooltip="Recalled at once"),
        Binding("u", "undo", "Undo", id="study.undo", tooltip="Take back the last answer (state and log)"),
        Binding("minus", "bury", "Bury", id="study.bury", tooltip="Hide this card until tomorrow"),
        Binding(
            "s", "suspend", "Suspend", id="study.suspend", tooltip="Never show this card until unsuspended"
        ),
        Binding(
            "e",
            "edit_location",
            "Edit",
            id="study.where",
            tooltip="Open the card's file at its line in $EDITOR",
        ),
        Binding(  # priority: the keys typed right after `b` reach the browser (see the home screen's)
            "b",
            "browse",
            "Browse",
            id="study.browse",
            tooltip="The card browser, on this pack",
            priority=True,
        ),
        Binding("l", "lab", "Lab", id="study.lab", tooltip="Open the runnable lab of this card"),
        Binding(
            "o",
            "open_media",
            "Media",
            id="study.media",
            tooltip="Open the card's images and sounds in the viewer",
        ),
        Binding(
            "c",
            "custom_study",
            "Custom study",
            id="study.custom",
            tooltip="Study ahead, forgotten cards, extra new cards or cram",
        ),
        Binding("escape", "app.home", "Packs", id="study.leave", tooltip="Back to the list of packs"),
    ]

    class FirstCardShown(Message):
        """The first card is on screen (a start-up benchmark run ends here)."""

        def __init__(self, painted_at: float) -> None:
            super().__init__()
            self.painted_at = painted_at  # wall-clock time of the first paint

    def __init__(self, pack: Pack, custom_study: bool = False) -> None:
        super().__init__()
        self.pack = pack
        self._open_custom_study = custom_study
        self.card: Card | None = None
        self.revealed = False
        self._shown_at = 0.0
        self._first_card_painted = False
        self._back_of: Card | None = None  # the card whose back #back holds
        self._after_first_frame: Card | None = None  # the first card, until the app's first frame is out
        self._hidden_parts_mounted = False

    def compose(self) -> ComposeResult:
        yield Static(id="counts")
        # Light widgets (KeyButton, one CardText per side, views switched by a class). Only what the first
        # card shows is built before it paints; the rest is mounted after (`_mount_hidden_parts`).
        with Vertical(id="card-view"):
            with VerticalScroll(id="card-scroll"):
                yield CardText(id="front")
            yield Static(id="card-status")
            with Horizontal(id="answer-bar"):
                yield KeyButton("Show answer · space", id="reveal", classes="-primary")
        yield KeyHints()

    def _mount_hidden_parts(self) -> None:
        """Mount what a card's front does not show: the back (below a divider, with the notes), the grade
        buttons, the view for when nothing is left and the line about background labs (hidden while there
        are none, as at start-up), in the places `compose` would have put them. Called once the first
        frame is out, or earlier by whatever needs one of them first: these are 11 of the screen's 19
        widgets, and building them before the first card cost it ~6 ms."""
        if self._hidden_parts_mounted:
            return
        self._hidden_parts_mounted = True
        self.query_one("#card-scroll").mount(
            Static(id="divider"), CardText(id="back"), Static(id="card-notes"), after="#front"
        )
        self.query_one("#answer-bar").mount_all(
            KeyButton(name, id=f"grade-{rating}", classes=f"grade grade-{rating}") for rating, name in GRADES
        )
        done_view = Vertical(id="done-view")
        self.mount(done_view, after="#card-view")
        done_view.mount(
            Static(id="done-text"), KeyButton("Custom study · c", id="done-custom", classes="-primary")
        )
        from tui.widgets.lab_runs_line import LabRunsLine  # here: a widget class costs start-up ~0.4 ms

        self.mount(LabRunsLine(), after=done_view)  # labs running or ended in the background

    def on_mount(self) -> None:
        self.session: StudySession = services_of(self).new_session((self.pack,))
        self.show_next()
        if getattr(self.app, "first_frame_out", True):
            self._focus_the_card()
        if self._open_custom_study:
            self.action_custom_study()

    def _focus_the_card(self) -> None:
        if self.focused is None:
            self.set_focus(self.query_one("#card-scroll"))

    # -- showing --------------------------------------------------------------------------------

    def show_next(self) -> None:
        card = self.session.next_card()
        if card is None:
            self.show_done()
        else:
            self.show_card(card)

    def show_card(self, card: Card) -> None:
        self.card = card
        self.revealed = False
        self.set_class(False, "-done")
        self.set_class(card.type == "cloze", "-cloze")  # revealed, a cloze shows its filled-in text alone
        self.query_one("#front", CardText).show(show_media(render_front(card)))
        self._back_of = None
        if self._first_card_painted:
            self._fill_back(card)
        else:  # the first card paints without its (hidden) back, drawn once that frame is out
            self.call_after_refresh(self._first_paint_done, card)
        self.set_class(False, "-revealed")
        self.query_one("#card-scroll").scroll_home(animate=False)
        self._update_status(card)
        self._update_counts()
        self.refresh_bindings()
        self._shown_at = time.monotonic()

    def _fill_back(self, card: Card) -> None:
        """Render the back of `card` (hidden until revealed), once per card shown."""
        if self._back_of is card or self.card is not card:
            return
        self._mount_hidden_parts()
        self._back_of = card
        self.query_one("#back", CardText).show(show_media(render_back(card)))
        self.query_one("#card-notes", Static).update(self._notes(card))

    def _first_paint_done(self, card: Card) -> None:
        if not getattr(self.app, "first_frame_out", True):
            # At start-up this runs before the first frame reaches the terminal: drawing the back now
            # (markdown, code) would hold that frame back. The app calls `after_first_frame` once it is out.
            self._after_first_frame = card
            return
        self._first_card_painted = True
        self.post_message(self.FirstCardShown(painted_at=time.time()))
        self._fill_back(card)

    def after_first_frame(self) -> None:
        """The app's first frame is on the terminal (Textual's Ready): focus and finish the first card."""
        self._focus_the_card()
        card, self._after_first_frame = self._after_first_frame, None
        if card is not None:
            self._first_paint_done(card)

    def _notes(self, card: Card) -> Content:
        # `notes` are for instructors: they show with the card's location (`e`), not to every student.
        return literal(f"source: {card.source.strip()}" if card.source else "")

    def _update_status(self, card: Card) -> None:
        pieces: list[Content | str | tuple[str, str]] = []
        if self.session.is_edited(card):
            pieces += [(" edited ", "reverse $warning"), "  "]
        if card.lab:
            pieces += [("l", "bold $accent"), f" lab: {one_line(card.lab)}  "]
        if card.tags:
            pieces.append((one_line(" ".join(f"#{tag}" for tag in card.tags)), "dim"))
        self.query_one("#card-status", Static).update(Content.assemble(*pieces))

    def _update_counts(self) -> None:
        mode = self.session.custom_mode
        if mode is not None:
            line = custom_line(self.pack.title, mode, self.session.custom_left())
        else:
            counts = self.session.counts(self.pack.id)
            line = counts_line(self.pack.title, counts.new, counts.learning, counts.review)
        self.query_one("#counts", Static).update(line)

    def _show_intervals(self, card: Card) -> None:
        self._mount_hidden_parts()
        labels = self.session.preview_labels(card)
        for rating, name in GRADES:
            self.query_one(f"#grade-{rating}", KeyButton).label = grade_label(name, rating, labels[rating])

    def show_done(self) -> None:
        self.card = None
        self.revealed = False
        self.set_class(False, "-revealed")
        self._update_counts()
        self._mount_hidden_parts()
        self.query_one("#done-text", Static).update(self._done_text())
        self.set_class(True, "-done")
        self.refresh_bindings()

    def _done_text(self) -> Content:
        summary = self.session.summary()
        next_due = summary.next_due
        services = services_of(self)
        now = services.now()
        tz = services.config.tzinfo()
        when = (
            "No card is scheduled yet"
            if next_due is None
            else f"The next card is due {when_text(next_due, now, tz)}"
        )
        return Content.assemble(
            ("Nothing left to study in ", "bold"),
            (one_line(self.pack.title), "bold"),
            ("\n\n", ""),
            summary_text(summary),
            "\n\n",
            when,
            ".\n\nc: custom study (ahead, forgotten, extra new cards, cram)   escape: back to the packs   ?: keys",
        )

    # -- actions --------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide the keys that make no sense right now (the footer follows)."""
        if action == "reveal":
            return self.card is not None and not self.revealed
        if action == "grade":
            return self.card is not None and self.revealed
        if action == "undo":
            session = getattr(self, "session", None)
            return session is not None and session.can_undo()
        if action in ("bury", "suspend", "edit_location"):
            return self.card is not None
        if action == "lab":
            return self.card is not None and bool(self.card.lab)
        if action == "open_media":
            return self.card is not None and bool(self._media())
        return True

    def _not_saved(self, err: StoreError) -> None:
        """The store refused a write (busy too long): say so; the card stays on screen to try again."""
        self.notify(one_line(str(err)), title="Not saved", severity="error", timeout=15, markup=False)

    def action_reveal(self) -> None:
        if self.card is None or self.revealed:
            return
        self.revealed = True
        self._fill_back(self.card)
        self._show_intervals(self.card)
        self.set_class(True, "-revealed")
        self.refresh_bindings()

    def action_grade(self, rating: int) -> None:
        if self.card is None or not self.revealed:
            return
        duration_ms = int((time.monotonic() - self._shown_at) * 1000)
        card = self.card
        try:
            became_leech = self.session.answer(card, rating, duration_ms)
        except StoreError as err:
            self._not_saved(err)
            return
        if became_leech:
            self._leech_notice(card)
        self.show_next()

    def _leech_notice(self, card: Card) -> None:
        """Say so when a card is suspended for lapsing too often: rewriting it usually helps more."""
        row = self.session.card_state(card)
        lapses = row.lapses if row else self.session.config.leech_lapses
        where = f"{neutralize_controls(str(card.file))}:{card.line}"
        self.notify(
            Content.assemble(
                (f"`{one_line(card.id)}`", "bold"),
                f" has lapsed {lapses} time{'' if lapses == 1 else 's'}: suspended and tagged leech; rewrite it?\n",
                literal(f"{where}   (b: the browser unsuspends it)"),
            ),
            title="Leech",
            severity="warning",
            timeout=20,
        )

    def action_undo(self) -> None:
        try:
            card = self.session.undo()
        except StoreError as err:
            self._not_saved(err)
            return
        if card is None:
            self.notify("nothing to undo")
            return
        self.show_card(card)

    def action_bury(self) -> None:
        if self.card is not None:
            try:
                self.session.bury(self.card)
            except StoreError as err:
                self._not_saved(err)
                return
            self.notify(f"buried {one_line(self.card.id)} until tomorrow", markup=False)
            self.show_next()

    def action_suspend(self) -> None:
        if self.card is not None:
            try:
                self.session.suspend(self.card)
            except StoreError as err:
                self._not_saved(err)
                return
            self.notify(f"suspended {one_line(self.card.id)} (b: the browser unsuspends it)", markup=False)
            self.show_next()

    def action_edit_location(self) -> None:
        if self.card is not None:
            from tui.editor import edit_card  # on demand: not part of the start-up's imports

            edit_card(self.app, self.card)

    def action_browse(self) -> None:
        from tui.screens.browser import BrowserScreen

        self.app.push_screen(BrowserScreen(f"pack:{self.pack.id}"), callback=self._browser_closed)

    def _browser_closed(self, changed: bool | None) -> None:
        """Cards were suspended, reset... in the browser: today's queue is read again."""
        if changed:
            self.session = services_of(self).new_session((self.pack,))
            self.show_next()

    # -- live packs -----------------------------------------------------------------------------

    def on_pack_reloaded(self, message: PackReloaded) -> None:
        """The pack's file was saved: the card on screen shows its new text (revealed stays revealed),
        or the next card comes when it left the pack; the session, counts and undo carry on."""
        if message.pack is None or message.pack.id != self.pack.id:
            return
        self.pack = message.pack
        self.session.replace_pack(message.pack)
        if self.card is None:
            self.show_next()
            return
        card = next((card for card in self.pack.cards if card.id == self.card.id), None)
        if card is None:
            self.show_next()
            return
        revealed, shown_at = self.revealed, self._shown_at
        self.show_card(card)
        self._shown_at = shown_at  # the answer's duration still counts from when the card first showed
        if revealed:
            self.action_reveal()

    async def action_lab(self) -> None:
        if self.card is not None and self.card.lab:
            await self.app.run_action(f"open_lab({self.card.lab!r}, {self.card.id!r})")

    def _media(self) -> list[Path]:
        """The card's media files; the back's only once it is revealed."""
        if self.card is None:
            return []
        shown = self.card.front + ("\n" + self.card.back if self.revealed else "")
        return media_files(shown, self.card.file)

    def action_open_media(self) -> None:
        for path in self._media():
            try:
                open_in_viewer(path)
            except OSError as err:
                self.notify(literal(f"cannot open {path.name}: {err}"), severity="warning")
                return
        self.notify(literal(", ".join(path.name for path in self._media())), title="Opened")

    def action_custom_study(self) -> None:
        from tui.screens.custom_study import CustomStudy

        self.app.push_screen(CustomStudy(self.pack.title), callback=self.apply_custom_study)

    def apply_custom_study(self, choice: CustomChoice | None) -> None:
        """Start the chosen custom study on this screen's session; say so when it finds no card."""
        if choice is None:
            return
        session, pack = self.session, self.pack
        try:
            if choice.mode == "new":
                left = session.extra_new(pack.id, choice.number)
                more = f"{choice.number} more new card{'' if choice.number == 1 else 's'}"
                self.notify(f"{more} today ({left} new left)")
            elif choice.mode == "ahead":
                found = session.study_ahead(choice.number)
                self._say_found(found, f"no review is due in the next {_days(choice.number)}")
            elif choice.mode == "forgotten":
                found = session.review_forgotten(choice.number)
                self._say_found(found, f"no card was forgotten in the last {_days(choice.number)}")
            else:
                cards = self._matching_cards(choice.query)
                self._say_found(session.cram(cards), f"no card of this pack matches {choice.query!r}")
        except StoreError as err:
            self._not_saved(err)
            return
        self.show_next()

    def _matching_cards(self, query: str) -> list[Card]:
        """The pack's cards that `query` matches (cards.query), in pack order."""
        from cards.query import matching_keys

        services = services_of(self)
        keys = set(matching_keys(services.store, (self.pack,), query, services.now(), services.config))
        return [card for card in self.pack.cards if (card.pack_id, card.id) in keys]

    def _say_found(self, found: int, nothing: str) -> None:
        if found:
            self.notify(f"custom study: {found} card{'' if found == 1 else 's'}")
        else:
            self.notify(nothing, severity="warning")

    @on(KeyButton.Pressed, "#done-custom")
    def _custom_pressed(self) -> None:
        self.action_custom_study()

    @on(KeyButton.Pressed, "#reveal")
    def _reveal_pressed(self) -> None:
        self.action_reveal()

    @on(KeyButton.Pressed, ".grade")
    def _grade_pressed(self, event: KeyButton.Pressed) -> None:
        assert event.button.id is not None
        self.action_grade(int(event.button.id.removeprefix("grade-")))


def _days(count: int) -> str:
    return "day" if count == 1 else f"{count} days"


def summary_text(summary: SessionSummary) -> str:
    """The session in one paragraph: answers, the split by grade, time spent; cram answers apart (they
    moved no card)."""
    parts = []
    if summary.reviewed:
        split = ", ".join(f"{summary.by_rating.get(rating, 0)} {name}" for rating, name in GRADES)
        plural = "" if summary.reviewed == 1 else "s"
        parts.append(f"{summary.reviewed} card{plural} answered ({split}) in {_spent(summary.seconds)}.")
    if summary.crammed:
        plural = "" if summary.crammed == 1 else "s"
        spent = _spent(summary.cram_seconds)
        parts.append(f"Cram: {summary.crammed} answer{plural} in {spent}, which left the schedule as it was.")
    return " ".join(parts) or "No cards answered in this session."


def _spent(total_seconds: float) -> str:
    minutes, seconds = divmod(round(total_seconds), 60)
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


def when_text(moment: datetime, now: datetime, tz: tzinfo | None) -> str:
    """ "now", or the local time and how far away it is: "at 14:32 (in 10m)", "on Fri 27 Nov at 04:00 (in 1d)"."""
    if moment <= now:
        return "now"
    local, local_now = moment.astimezone(tz), now.astimezone(tz)
    clock = local.strftime("%H:%M")
    day = "" if local.date() == local_now.date() else local.strftime("on %a %d %b ")
    return f"{day}at {clock} (in {format_interval(moment - now)})"
