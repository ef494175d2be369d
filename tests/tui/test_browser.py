"""Pilot tests of the card browser, the card detail, the leech notice and the home screen's hidden counts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from cards.config import load_config
from cards.paths import Home
from cards.schedule import StudySession
from cards.store import REVIEW, CardRow, Store
from cards.study_day import to_ms
from tests.tui.study_helpers import NOW, SAMPLE_PACK, SIZE, card_state, fixed_clock, make_home, run_async
from tests.tui.test_study_snapshots import user_packs_only
from tui.app import CardlabApp, create_app
from tui.editor import editor_command
from tui.screens.browser import BrowserScreen
from tui.screens.card_detail import CardDetailScreen, history_rows
from tui.screens.confirm import Confirm
from tui.screens.study import StudyScreen
from tui.widgets.card_text import CardText
from tui.widgets.recall_chart import RecallChart, bar_rows, recall, recall_samples

DAY_MS = 86_400_000


def seeded_home(folder: Path) -> Home:
    """The sample pack; embedding and dropout answered Good twice (4 and 2 days ago), an orphan `gone`."""
    home = make_home(folder, {"sample.toml": SAMPLE_PACK})
    packs, _ = user_packs_only(home)
    with Store.open(home.store_path) as store:
        for days in (4, 2):
            session = StudySession(
                store, packs, load_config(home), clock=fixed_clock(NOW - timedelta(days=days))
            )
            for _ in range(2):
                session.answer(session.next_card(), 3, duration_ms=3000)
        with store.transaction():
            store.put_card_row(CardRow("sample", "gone", "h", state=REVIEW, stability=4.0, reps=1))
    return home


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CardlabApp:
    monkeypatch.setattr("tui.app.discover_packs", user_packs_only)
    monkeypatch.delenv("EDITOR", raising=False)
    monkeypatch.delenv("VISUAL", raising=False)
    return create_app(seeded_home(tmp_path / "home"), clock=fixed_clock())


def browser(app: CardlabApp) -> BrowserScreen:
    assert isinstance(app.screen, BrowserScreen), app.screen
    return app.screen


def shown(app: CardlabApp) -> list[str]:
    return [match.card_id for match in browser(app).rows.values()]


def summary(app: CardlabApp) -> str:
    return str(browser(app).query_one("#summary", Static).render())


def toasts(app: CardlabApp) -> list[str]:
    return [str(notification.message) for notification in app._notifications]


async def search(pilot, text: str) -> None:  # noqa: ANN001
    await pilot.press("slash")
    browser(pilot.app).query_one("#query", Input).value = ""
    await pilot.press(*text, "enter")
    await pilot.pause()


@run_async
async def test_b_opens_every_card_and_a_query_narrows_it(app: CardlabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("b")
        await pilot.pause()
        assert shown(app) == [
            "embedding",
            "dropout",
            "weight-decay",
            "cold-start",
            "ulmfit#c1",
            "ulmfit#c2",
            "gone",
        ]
        assert summary(app).startswith("7 cards   sorted by Pack ↑")
        await search(pilot, "is:review -is:orphaned")  # typed keys (s, o, b...) go to the query, not actions
        assert shown(app) == ["embedding", "dropout"]
        assert card_state(app.home, "embedding")["suspended"] == 0
        await search(pilot, "tag:collab is:nope")
        problem = browser(app).query_one("#query-problem", Static)
        assert problem.display and "bad query at column 12 ('is:nope')" in str(problem.render())
        assert str(problem.render()).endswith("\n" + " " * 11 + "^")
        assert shown(app) == ["embedding", "dropout"], "a bad query keeps the last good list"
        await search(pilot, "is:orphaned")
        assert shown(app) == ["gone"] and not problem.display


@run_async
async def test_sorting_by_key_and_by_heading(app: CardlabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("b", "o")  # pack -> card
        assert shown(app)[:3] == ["cold-start", "dropout", "embedding"]
        await pilot.press("O")
        assert shown(app)[:3] == ["weight-decay", "ulmfit#c2", "ulmfit#c1"]
        assert "sorted by Card ↓" in summary(app)
        table = browser(app).query_one(DataTable)
        table.post_message(
            DataTable.HeaderSelected(table, table.columns["reviews"].key, 9, table.columns["reviews"].label)
        )
        await pilot.pause()
        assert "sorted by Reviews ↑" in summary(app) and shown(app)[-2:] == ["embedding", "dropout"]


@run_async
async def test_each_action_on_the_marked_cards_or_the_highlighted_one(app: CardlabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("b", "space", "space")  # marks embedding, dropout
        assert browser(app).marked == {("sample", "embedding"), ("sample", "dropout")}
        assert "2 marked" in summary(app)
        await pilot.press("s")
        assert [card_state(app.home, c)["suspended"] for c in ("embedding", "dropout")] == [1, 1]
        assert toasts(app)[-1] == "suspended: 2 of 2 cards changed"
        await pilot.press("u")
        assert toasts(app)[-1] == "unsuspended: 2 of 2 cards changed"
        await pilot.press("b")
        assert card_state(app.home, "embedding")["buried_until_ms"] == to_ms(
            NOW.replace(hour=4) + timedelta(days=1)
        )
        await pilot.press("B")
        assert card_state(app.home, "dropout")["buried_until_ms"] is None
        await pilot.press("t")
        assert card_state(app.home, "embedding")["due_ms"] == to_ms(NOW)
        assert toasts(app)[-1] == "made due today: 2 of 2 cards changed"
        await pilot.press("r")
        assert isinstance(app.screen, Confirm)
        await pilot.press("n")
        assert card_state(app.home, "embedding")["state"] == REVIEW, "no: nothing reset"
        await pilot.press("r", "y")
        assert (
            card_state(app.home, "embedding")["state"] == 0 and card_state(app.home, "dropout")["reps"] == 0
        )
        assert toasts(app)[-1] == "reset to new: 2 of 2 cards changed"
        await pilot.press("up", "up", "space", "space", "down")  # unmark both; highlight cold-start
        assert not browser(app).marked
        await pilot.press("s")
        assert card_state(app.home, "cold-start")["suspended"] == 1
        assert toasts(app)[-1] == "suspended: 1 of 1 card changed"
        await pilot.press("escape")
        assert not isinstance(app.screen, BrowserScreen)


@run_async
async def test_mark_all_covers_every_match_and_orphans_are_deleted_after_asking(app: CardlabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("b")
        await search(pilot, "is:orphaned or card:dropout")
        await pilot.press("a")
        assert browser(app).marked == {("sample", "gone"), ("sample", "dropout")}
        await pilot.press("x", "escape")
        assert card_state(app.home, "gone") is not None
        await pilot.press("x")
        assert "1 card that are in no pack" in str(app.screen.query_one("#question").render())
        await pilot.press("y")
        assert card_state(app.home, "gone") is None and card_state(app.home, "dropout") is not None
        assert toasts(app)[-1] == "deleted the history of 1 card (0 reviews)"
        assert shown(app) == ["dropout"]
        await pilot.press("a")
        assert not browser(app).marked, "a second `a` unmarks"


@run_async
async def test_detail_shows_text_place_history_and_chart(
    app: CardlabApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = []
    monkeypatch.setattr(
        CardlabApp, "action_open_lab", lambda self, lab, card=None: opened.append((lab, card))
    )
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("b", "down", "enter")  # dropout
        screen = app.screen
        assert isinstance(screen, CardDetailScreen) and screen.card.id == "dropout"
        facts = str(screen.query_one("#facts", Static).render())
        assert "review   due in" in facts and "2 reviews, 0 lapses" in facts and "sample.toml:" in facts
        history = screen.query_one("#history", DataTable)
        assert history.row_count == 2
        assert [str(cell) for cell in history.get_row_at(1)][1:3] == ["Good", "2.0d"]
        assert len(screen.query_one(RecallChart)._reviews) == 2
        await pilot.press("e")  # no $EDITOR: the place is shown (and copied)
        assert toasts(app)[-1].endswith(f"sample.toml:{screen.card.line}")
        await pilot.press("l")
        assert opened == [("ulmfit-lm", "dropout")]
        await pilot.press("escape")
        assert isinstance(app.screen, BrowserScreen)


@run_async
async def test_the_detail_shows_the_back_after_studying(app: CardlabApp) -> None:
    """Textual applies a screen's stylesheet app-wide once loaded: the study screen's rule that hides its
    own back until revealed must not hide the detail's."""
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")  # study the sample pack
        assert isinstance(app.screen, StudyScreen)
        await pilot.press("b", "down", "enter")  # this pack's browser; the dropout card
        screen = app.screen
        assert isinstance(screen, CardDetailScreen) and screen.card.id == "dropout"
        back = screen.query_one("#back", CardText)
        assert back.source == "Every dropout probability of the AWD-LSTM."
        assert back.display and back.region.height == 1


def test_the_editor_opens_at_the_card_line(tmp_path: Path) -> None:
    card = user_packs_only(seeded_home(tmp_path))[0][0].cards[1]
    assert editor_command(card, {"EDITOR": "nvim -p"}) == ["nvim", "-p", f"+{card.line}", str(card.file)]
    assert editor_command(card, {"VISUAL": "hx", "EDITOR": "nano"})[0] == "hx"
    assert editor_command(card, {"EDITOR": "  "}) is None and editor_command(card, {}) is None


def test_history_rows_and_the_recall_curve() -> None:
    from cards.store import ReviewRow

    at = to_ms(NOW)
    reviews = [
        ReviewRow("p", "c", "h", 3, 0, 1, at, 4200, at + 600_000, 2.0, 5.0),
        ReviewRow("p", "c", "h", 1, 2, 3, at + 3 * DAY_MS, 900, at + 3 * DAY_MS + 600_000, 1.0, 6.0),
    ]
    rows = history_rows(reviews, NOW.tzinfo)
    assert rows == [
        ("2026-03-12 14:00", "Good", "—", "10m", "4.2s"),
        ("2026-03-15 14:00", "Again", "3.0d", "10m", "0.9s"),
    ]
    assert recall(2 * DAY_MS, 2.0, -0.5, 19 / 81) == pytest.approx(0.9)  # R is 90% after S days
    samples = recall_samples(
        [(at, 2.0), (at + 3 * DAY_MS, 1.0)], at - DAY_MS, at + 4 * DAY_MS, 5, -0.5, 19 / 81
    )
    assert samples[0] is None and samples[1] > samples[2] > samples[3], "recall falls"
    assert samples[4] > samples[3], "a review resets the curve"
    assert bar_rows([1.0, 0.5, None], 2) == ["█  ", "██ "]


@run_async
async def test_study_b_browses_the_pack_and_an_unsuspended_card_comes_back(app: CardlabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        study = app.screen
        assert isinstance(study, StudyScreen) and study.card.id == "weight-decay"
        await pilot.press("s")
        assert study.card.id == "cold-start"
        await pilot.press("b")
        assert browser(app).query_one("#query", Input).value == "pack:sample"
        await search(pilot, "is:suspended")
        assert shown(app) == ["weight-decay"]
        await pilot.press("u", "escape")
        assert app.screen is study and study.card.id == "weight-decay", "the queue was read again"


@run_async
async def test_a_new_leech_gets_a_notice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tui.app.discover_packs", user_packs_only)
    home = make_home(tmp_path, {"sample.toml": SAMPLE_PACK})
    home.config_path.write_text('timezone = "UTC"\nleech_lapses = 2\n', encoding="utf-8")
    with Store.open(home.store_path) as store, store.transaction():
        row = CardRow(
            "sample",
            "embedding",
            "h",
            state=REVIEW,
            stability=3.0,
            difficulty=5.0,
            due_ms=to_ms(NOW),
            last_review_ms=to_ms(NOW) - 3 * DAY_MS,
            reps=5,
            lapses=1,
        )
        store.put_card_row(row)
    app = create_app(home, clock=fixed_clock())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter", "space", "1")
        assert toasts(app)[-1].startswith(
            "`embedding` has lapsed 2 times: suspended and tagged leech; rewrite it?"
        )
        assert "sample.toml:" in toasts(app)[-1]
        assert card_state(app.home, "embedding")["tags"] == "leech"


@run_async
async def test_home_counts_suspended_and_buried_cards(app: CardlabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("b", "s", "down", "b", "escape")
        await pilot.pause()
        table = app.screen.query_one("#packs", DataTable)
        assert [str(table.get_cell("sample", column)) for column in ("suspended", "buried")] == ["1", "1"]


# --- keys typed in a burst ------------------------------------------------------------------------


def burst(app: CardlabApp, *keys: str) -> None:
    """Send `keys` as a fast typist (or a terminal while the app is busy) delivers them: every key queued
    before the app handles the first, with no pause between them (Pilot.press waits after each key)."""
    from textual import events
    from textual.keys import _character_to_key

    driver = app._driver
    assert driver is not None
    for key in keys:
        if len(key) == 1:
            event = events.Key(key if key.isalnum() else _character_to_key(key), key)
        else:
            event = events.Key(key, "\r" if key == "enter" else None)
        event.set_sender(app)
        driver.send_message(event)


def every_card_state(home: Home) -> list[tuple[object, ...]]:
    import sqlite3

    with sqlite3.connect(home.store_path) as db:
        return db.execute("SELECT * FROM card_state ORDER BY pack_id, card_id").fetchall()


async def settle(pilot, app: CardlabApp) -> None:  # noqa: ANN001
    for _ in range(20):
        await pilot.pause()
    assert not [toast for toast in toasts(app) if "changed" in toast], toasts(app)


@run_async
async def test_b_then_a_burst_typed_search_changes_no_card(app: CardlabApp) -> None:
    """`b`, `/tag:collab`, Enter in one burst: every key after `/` goes to the search box (t due today, a mark
    all, o sort, b bury and Enter open must not act), then Enter runs the query."""
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        before = every_card_state(app.home)
        burst(app, "b", *"/tag:collab", "enter")
        await settle(pilot, app)
        screen = browser(app)  # Enter ran the query; it did not open a card
        assert screen.query_one("#query", Input).value == "tag:collab"
        assert shown(app) == ["embedding"] and not screen.marked and screen.order == "pack"
        assert screen.query_one(DataTable).has_focus
        assert every_card_state(app.home) == before


@run_async
async def test_a_burst_typed_search_in_the_open_browser_changes_no_card(app: CardlabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("b")
        await pilot.pause()
        before = every_card_state(app.home)
        burst(app, *"/is:review burst", "enter")  # s suspend, u unsuspend, r reset, b bury, t due, space mark
        await settle(pilot, app)
        screen = browser(app)
        assert screen.query_one("#query", Input).value == "is:review burst"
        assert shown(app) == [] and not screen.marked
        assert every_card_state(app.home) == before
        burst(app, "/", *"/x", "escape", "o")  # `/` selects the query; in the box `/` is typed
        await settle(pilot, app)  # escape leaves the box: o sorts
        assert screen.query_one("#query", Input).value == "/x" and screen.order == "card"


@run_async
async def test_study_b_then_a_burst_typed_search_changes_no_card(app: CardlabApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        assert isinstance(app.screen, StudyScreen)
        before = every_card_state(app.home)
        burst(app, "b", *"/tag:collab", "enter")  # the query starts as pack:sample; `/` selects it
        await settle(pilot, app)
        assert browser(app).query_one("#query", Input).value == "tag:collab"
        assert shown(app) == ["embedding"] and every_card_state(app.home) == before


@run_async
async def test_keys_typed_while_the_browser_is_still_opening_go_to_the_search_box(
    app: CardlabApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The browser pushed and the keys queued while it is still being built (a busy app; its widgets are
    made late here): `/` and what follows reach the search box, escape leaves it, then o sorts."""
    import asyncio

    compose = BrowserScreen._compose

    async def late_compose(self: BrowserScreen) -> None:
        await asyncio.sleep(0.3)  # the keys are all queued meanwhile
        await compose(self)

    monkeypatch.setattr(BrowserScreen, "_compose", late_compose)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        before = every_card_state(app.home)
        app.push_screen(BrowserScreen())
        burst(app, *"/tag:collab", "enter")
        await asyncio.sleep(0.5)
        await settle(pilot, app)
        screen = browser(app)
        assert screen.query_one("#query", Input).value == "tag:collab" and shown(app) == ["embedding"]
        app.push_screen(BrowserScreen("is:review"))
        burst(app, "/", *"tag", "escape", "o")
        await asyncio.sleep(0.5)
        await settle(pilot, app)
        second = browser(app)
        assert second is not screen and second.query_one("#query", Input).value == "tag"
        assert second.order == "card" and second.query_one(DataTable).has_focus
        assert every_card_state(app.home) == before


@run_async
async def test_at_80_columns_every_footer_key_is_whole_and_keys_lists_the_rest(app: CardlabApp) -> None:
    from tui.screens.help import screen_keys
    from tui.widgets.key_hints import KeyHints

    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("b")
        await pilot.pause()
        screen = browser(app)
        hints = screen.query_one(KeyHints)
        line = str(hints.render())
        assert len(line) <= hints.content_size.width, line  # it ran on to "b Bury  B", "esc Back" unseen
        assert line.endswith("esc Back  ? Keys") or line.endswith("esc Back"), line
        listed = {line.description for line in screen_keys(screen)}
        every = {binding.description for binding in BrowserScreen.BINDINGS}  # type: ignore[union-attr]
        assert every <= listed, every - listed  # the ones the footer has no room for too
