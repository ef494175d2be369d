"""Live packs: a saved pack file reloads in the running app (pilot tests, with a fast watch interval)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from cards.discover import link_pack
from tests.tui.study_helpers import SAMPLE_PACK, SIZE, fixed_clock, make_home, reviews, run_async
from tui.app import CardlabApp, create_app
from tui.screens.home import HomeScreen
from tui.screens.study import StudyScreen
from tui.widgets.card_text import CardText

WATCH_S = 0.05
# The bound is "the card on screen shows its new text within 2 s" of the save, with a check every
# 0.5 s: 4 checks. Counted here in the app's own looks at the files, not in wall-clock time (a loaded
# machine slows the ticks and the reload alike): the first check after the save finds it.
MAX_CHECKS = 4
GIVE_UP_S = 60.0  # only so a broken reload fails instead of hanging; not a performance bound

checks_made = [0]


@pytest.fixture(autouse=True)
def count_watch_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    checks_made[0] = 0
    check = CardlabApp.check_pack_files

    def counting_check(self: CardlabApp) -> None:
        check(self)
        checks_made[0] += 1

    monkeypatch.setattr(CardlabApp, "check_pack_files", counting_check)


def linked_app(tmp_path: Path) -> tuple[CardlabApp, Path]:
    home = make_home(tmp_path / "home")
    source = tmp_path / "author" / "sample.toml"
    source.parent.mkdir()
    source.write_text(SAMPLE_PACK, encoding="utf-8")
    link_pack(home, source)
    return create_app(home, pack_filter="sample", clock=fixed_clock(), watch_interval=WATCH_S), source


async def wait_for(pilot: Pilot, condition: Callable[[], bool]) -> int:
    """The app's checks of its pack files until `condition` held, counted from the save just made (fails
    past MAX_CHECKS)."""
    before = checks_made[0]
    give_up = time.monotonic() + GIVE_UP_S
    while not condition():
        assert time.monotonic() < give_up, "the app never reloaded the pack"
        await pilot.pause(WATCH_S)
    checks = checks_made[0] - before
    assert checks <= MAX_CHECKS, f"the app reloaded the pack only after {checks} checks of its files"
    return checks


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
        [moved] = [str(toast.message) for toast in app._notifications if toast.title == "History moved"]
        assert moved == "1 review of `embedding` now belongs to `embeddings`"
        assert app.screen.session.counts("sample").learning == 1  # the moved card is still learning today


def home_rows(app: CardlabApp) -> list[str]:
    """The pack ids on the home screen's table, top to bottom."""
    from textual.widgets import DataTable

    table = app.screen.query_one(DataTable)
    return [str(row.key.value) for row in table.ordered_rows]


@run_async
async def test_packs_added_from_the_shell_appear_on_the_home_screen(tmp_path: Path) -> None:
    """`cardlab pack add`, `pack add --link` and a new file in a linked folder, while the app runs."""
    from tui.cli import main

    home = make_home(tmp_path / "home")
    app = create_app(home, clock=fixed_clock(), watch_interval=WATCH_S)
    copied = tmp_path / "author" / "sample.toml"
    linked = tmp_path / "linked" / "other.toml"
    for path in (copied, linked):
        path.parent.mkdir()
    copied.write_text(SAMPLE_PACK, encoding="utf-8")
    linked.write_text(SAMPLE_PACK.replace('id = "sample"', 'id = "other"', 1), encoding="utf-8")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        before = home_rows(app)
        assert "sample" not in before

        assert main(["--home", str(tmp_path / "home"), "pack", "add", str(copied)]) == 0
        await wait_for(pilot, lambda: "sample" in home_rows(app))
        assert "added Sample pack" in [str(toast.message) for toast in app._notifications]

        assert main(["--home", str(tmp_path / "home"), "pack", "add", "--link", str(linked.parent)]) == 0
        await wait_for(pilot, lambda: "other" in home_rows(app))

        third = SAMPLE_PACK.replace('id = "sample"', 'id = "third"', 1)
        (linked.parent / "third.toml").write_text(third, encoding="utf-8")
        await wait_for(pilot, lambda: "third" in home_rows(app))
        assert home_rows(app) == [*before, "sample", "other", "third"]
        assert not app.library.errors

        (linked.parent / "clash.toml").write_text(SAMPLE_PACK, encoding="utf-8")  # a second "sample"
        await wait_for(pilot, lambda: bool(app.library.errors))
        [problem] = app.library.errors
        assert problem.startswith(f"{linked.parent / 'clash.toml'}:") and "sample" in problem
        toasts = [(toast.title, str(toast.message)) for toast in app._notifications]
        assert ("clash.toml does not check: it is not loaded", problem) in toasts
        assert home_rows(app) == [*before, "sample", "other", "third"]

        anki = Path(__file__).resolve().parents[1] / "fixtures" / "anki" / "modern.apkg"
        assert main(["--home", str(tmp_path / "home"), "import", "anki", str(anki)]) == 0
        await wait_for(pilot, lambda: len(home_rows(app)) == len(before) + 5)  # the apkg holds two decks
        assert "fixture-lesson-4" in home_rows(app)


@run_async
async def test_a_pack_made_in_the_packs_folder_appears_with_its_lab(tmp_path: Path) -> None:
    from labs.registry import extra_labs, known_lab_ids
    from tui.cli import main

    home = make_home(tmp_path / "home")
    app = create_app(home, clock=fixed_clock(), watch_interval=WATCH_S)
    with extra_labs():  # the registry as it was after the test
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app._know_pack_labs()  # a lab was opened before: the user's pack labs are read
            assert main(["--home", str(tmp_path / "home"), "pack", "new", str(home.packs_dir / "mine")]) == 0
            await wait_for(pilot, lambda: "mine" in home_rows(app))
            assert not app.library.errors
            app._know_pack_labs()  # the next lab opened
            assert "mine-line" in known_lab_ids()
