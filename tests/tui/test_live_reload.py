"""Live packs: a saved pack file reloads in the running app (pilot tests, with a fast watch interval)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Static

from cards.discover import link_pack
from tests.tui.study_helpers import SAMPLE_PACK, SIZE, fixed_clock, make_home, reviews, run_async
from tui.app import CardlabApp, create_app
from tui.screens.home import HomeScreen
from tui.screens.study import StudyScreen
from tui.widgets.card_text import CardText

WATCH_S = 0.05
DEADLINE_S = 2.0  # the bound: the card on screen shows its new text within 2 s


def linked_app(tmp_path: Path) -> tuple[CardlabApp, Path]:
    home = make_home(tmp_path / "home")
    source = tmp_path / "author" / "sample.toml"
    source.parent.mkdir()
    source.write_text(SAMPLE_PACK, encoding="utf-8")
    link_pack(home, source)
    return create_app(home, pack_filter="sample", clock=fixed_clock(), watch_interval=WATCH_S), source


async def wait_for(pilot: Pilot, condition: Callable[[], bool]) -> float:
    """Seconds until `condition` held (fails past DEADLINE_S)."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < DEADLINE_S, "the app did not reload the pack in time"
        await pilot.pause(WATCH_S)
    return time.monotonic() - started


def front(app: CardlabApp) -> str:
    return app.screen.query_one("#front", CardText).source


@run_async
async def test_saving_the_pack_updates_the_card_on_screen_and_keeps_the_session(tmp_path: Path) -> None:
    app, source = linked_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, StudyScreen) and screen.card is not None
        assert screen.card.id == "embedding" and screen.card.file == source  # `e` points at the author's file
        await pilot.press("space", "3")  # answered: the session has one answer to count and undo
        assert screen.card.id == "dropout"
        await pilot.press("space")
        counts = str(screen.query_one("#counts", Static).render())

        source.write_text(
            SAMPLE_PACK.replace("What does `drop_mult` scale?", "What does drop_mult multiply?")
        )
        await wait_for(pilot, lambda: front(app) == "What does drop_mult multiply?")
        assert screen.card.id == "dropout" and screen.revealed, "the same card, still revealed"
        assert str(screen.query_one("#counts", Static).render()) == counts
        assert screen.session.summary().reviewed == 1
        await pilot.press("u")
        assert screen.card.id == "embedding" and [card for card, *_ in reviews(app.home)] == []
        await pilot.press("space", "4")
        assert [(card, rating) for card, rating, _ in reviews(app.home)] == [("embedding", 4)]


@run_async
async def test_a_broken_save_keeps_the_last_good_version_and_shows_its_problems(tmp_path: Path) -> None:
    app, source = linked_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        before = front(app)
        source.write_text(SAMPLE_PACK.replace('front = "What is an **embedding**?"', "front = What is"))
        await wait_for(pilot, lambda: bool(app.library.errors))
        [problem] = app.library.errors
        assert problem.startswith(f"{source}:11:9: TOML syntax error: Invalid value; text must be quoted")
        assert front(app) == before and app.library.pack("sample") is not None
        toasts = [(toast.title, str(toast.message)) for toast in app._notifications]
        assert ("sample.toml no longer checks: the last good version stays loaded", problem) in toasts

        await pilot.press("escape")
        home = app.screen
        assert isinstance(home, HomeScreen)
        box = home.query_one("#load-errors")
        assert box.display and problem in str(home.query_one("#load-errors-text", Static).render())

        source.write_text(SAMPLE_PACK.replace('title = "Sample pack"', 'title = "Sample, fixed"'))
        await wait_for(pilot, lambda: not app.library.errors)
        await pilot.pause()
        assert not box.display and app.library.pack("sample").title == "Sample, fixed"


@run_async
async def test_a_rename_is_pointed_out_then_was_moves_the_history(tmp_path: Path) -> None:
    app, source = linked_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("space", "3")  # "embedding" has one review
        renamed = SAMPLE_PACK.replace('id = "embedding"', 'id = "embeddings"')
        source.write_text(renamed)
        await wait_for(pilot, lambda: any(toast.title == "Renamed?" for toast in app._notifications))
        [hint] = [str(toast.message) for toast in app._notifications if toast.title == "Renamed?"]
        assert hint == (
            "card `embedding` has 1 review but is gone; did you rename it to `embeddings`? "
            'add `was = ["embedding"]` to keep its history'
        )
        source.write_text(renamed.replace('source = "lesson 4"', 'source = "lesson 4"\nwas = ["embedding"]'))
        await wait_for(pilot, lambda: any(toast.title == "History moved" for toast in app._notifications))
        assert [card for card, *_ in reviews(app.home)] == ["embeddings"]
        assert app.screen.session.counts("sample").learning == 1  # the moved card is still learning today
