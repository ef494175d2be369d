"""Pilot tests of custom study, the settings screen, `?` per screen and where toasts go."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from textual.widgets import Input, Static

from cards.config import load_config
from cards.store import CRAM, SCHEDULED
from tests.tui.study_helpers import SIZE, card_state, fixed_clock, make_home, run_async, write_pack
from tui.app import CardlabApp, create_app
from tui.screens.custom_study import CustomStudy
from tui.screens.help import HelpScreen
from tui.screens.settings import SettingsScreen
from tui.screens.study import StudyScreen

BASIC = ("embedding", "dropout", "weight-decay", "cold-start")


def study_app(tmp_path: Path, settings: str = "") -> CardlabApp:
    home = make_home(tmp_path / "home")
    with home.config_path.open("a", encoding="utf-8") as config:
        config.write(settings)
    return create_app(home, pack_filter=str(write_pack(tmp_path)), clock=fixed_clock())


def study_screen(app: CardlabApp) -> StudyScreen:
    for screen in reversed(app.screen_stack):
        if isinstance(screen, StudyScreen):
            return screen
    raise AssertionError(f"no study screen in {app.screen_stack}")


def kinds(app: CardlabApp) -> list[tuple[str, int]]:
    with sqlite3.connect(app.home.store_path) as db:
        return db.execute("SELECT card_id, kind FROM review_log ORDER BY id").fetchall()


def states(app: CardlabApp) -> list[tuple]:
    with sqlite3.connect(app.home.store_path) as db:
        return db.execute("SELECT * FROM card_state ORDER BY card_id").fetchall()


async def finish_the_pack(pilot, answers: int = 5, rating: str = "4") -> None:
    for _ in range(answers):
        await pilot.press("space", rating)
    assert study_screen(pilot.app).card is None, "the pack should be done"


async def choose(pilot, mode: str, number: str | None = None) -> None:
    """Open custom study from the done view's button, pick `mode`, type N, start."""
    await pilot.click("#done-custom")
    assert isinstance(pilot.app.screen, CustomStudy)
    await pilot.click(f"#mode-{mode}")
    await pilot.pause()  # the mode's default N is filled in first
    if number is not None:
        pilot.app.screen.query_one("#custom-number", Input).value = number
    await pilot.press("ctrl+s")
    await settle(pilot)


async def settle(pilot, rounds: int = 20) -> None:
    """Let the dialog's result reach the study screen (a callback after the dialog closes)."""
    for _ in range(rounds):
        await pilot.pause()
        if not isinstance(pilot.app.screen, CustomStudy):
            break
    await pilot.pause()


@run_async
async def test_cram_from_the_done_view_logs_cram_rows_and_leaves_the_schedule(tmp_path: Path) -> None:
    app = study_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await finish_the_pack(pilot)
        before = states(app)
        await choose(pilot, "cram")
        screen = study_screen(app)
        assert screen.session.custom_mode == "cram"
        assert "Cram 5 left" in str(screen.query_one("#counts", Static).render())
        await pilot.press("space")
        assert str(screen.query_one("#grade-3").label) == "3 Good · done"
        await pilot.press("1")  # Again: shown once more at the end
        for _ in range(5):
            await pilot.press("space", "3")
        assert screen.card is None
        assert states(app) == before, "cram moved no due date and no FSRS state"
        crammed = [card_id for card_id, kind in kinds(app) if kind == CRAM]
        assert crammed == ["embedding", *BASIC[1:], "ulmfit#c1", "embedding"]  # c2 is buried: left out
        assert [kind for _, kind in kinds(app)[:5]] == [SCHEDULED] * 5


@run_async
async def test_the_end_of_session_counts_cram_answers_apart(tmp_path: Path) -> None:
    app = study_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await finish_the_pack(pilot)
        await choose(pilot, "cram")
        screen = study_screen(app)
        await pilot.press("space", "1")  # Again: shown once more at the end
        for _ in range(5):
            await pilot.press("space", "3")
        assert screen.card is None
        done = str(screen.query_one("#done-text", Static).render())
        answers = re.search(r"\n\n(.*) in \d+s\. (.*) in \d+s, (.*)\n\n", done)  # times are measured
        assert answers is not None, done
        assert answers.groups() == (
            "5 cards answered (0 Again, 0 Hard, 0 Good, 5 Easy)",
            "Cram: 6 answers",
            "which left the schedule as it was.",
        )


async def cram_query(pilot, query: str) -> None:
    await pilot.click("#done-custom")
    await pilot.click("#mode-cram")
    await pilot.pause()
    pilot.app.screen.query_one("#custom-query", Input).value = query
    await pilot.press("ctrl+s")
    await settle(pilot)


@run_async
async def test_cram_by_query_queues_only_the_matching_cards(tmp_path: Path) -> None:
    app = study_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await finish_the_pack(pilot)
        await cram_query(pilot, "tag:collab or card:cold-start")
        assert study_screen(app).card.id == "embedding"
        assert study_screen(app).session.custom_left() == 2
        await pilot.press("space", "3")
        assert study_screen(app).card.id == "cold-start"


@run_async
async def test_a_bad_cram_query_is_pointed_at_in_the_dialog(tmp_path: Path) -> None:
    app = study_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await finish_the_pack(pilot)
        await cram_query(pilot, "tag:collab is:nope")
        assert isinstance(app.screen, CustomStudy)
        error = str(app.screen.query_one("#custom-error", Static).render())
        assert "is:nope" in error and "column" in error


@run_async
async def test_study_ahead_answers_reviews_due_later_and_reschedules_them(tmp_path: Path) -> None:
    app = study_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await finish_the_pack(pilot)
        due_before = card_state(app.home, "embedding")["due_ms"]
        await choose(pilot, "ahead", "30")
        screen = study_screen(app)
        assert screen.session.custom_mode == "ahead" and screen.session.custom_left() == 5
        for _ in range(5):
            await pilot.press("space", "3")
        assert card_state(app.home, "embedding")["due_ms"] != due_before
        assert {kind for _, kind in kinds(app)} == {SCHEDULED}


@run_async
async def test_review_forgotten_brings_back_a_card_answered_again(tmp_path: Path) -> None:
    app = study_app(tmp_path, settings="relearning_steps_min = [10]\nlearning_steps_min = [1]\n")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space", "1")  # embedding forgotten; it waits a minute in learning
        for _ in range(4):
            await pilot.press("space", "4")
        screen = study_screen(app)
        assert screen.card.id == "embedding", "learning ahead shows it again before the pack is done"
        await pilot.press("c")
        await pilot.click("#mode-forgotten")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert screen.session.custom_mode == "forgotten" and screen.session.custom_left() == 1
        assert "Forgotten cards 1 left" in str(screen.query_one("#counts", Static).render())


@run_async
async def test_extra_new_cards_today(tmp_path: Path) -> None:
    app = study_app(tmp_path, settings="new_per_day = 2\n")
    async with app.run_test(size=SIZE) as pilot:
        await finish_the_pack(pilot, answers=2)
        await choose(pilot, "new", "2")
        screen = study_screen(app)
        assert screen.card is not None and screen.card.id == "weight-decay"
        assert screen.session.counts().new == 2


@run_async
async def test_a_bad_number_is_refused_in_the_dialog(tmp_path: Path) -> None:
    app = study_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await finish_the_pack(pilot)
        await choose(pilot, "ahead", "0")
        assert isinstance(app.screen, CustomStudy)
        error = str(app.screen.query_one("#custom-error", Static).render())
        assert "from 1 to 365" in error
        await pilot.press("escape")
        assert isinstance(app.screen, StudyScreen) and app.screen.session.custom_mode is None


@run_async
async def test_custom_study_from_the_command_palette_on_the_home_screen(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    write_pack(home.packs_dir)
    app = create_app(home, clock=fixed_clock())
    async with app.run_test(size=SIZE) as pilot:
        app.action_custom_study("sample")
        await pilot.pause()
        assert isinstance(app.screen, CustomStudy)
        assert study_screen(app).pack.id == "sample"


@run_async
async def test_settings_screen_saves_a_checked_value_and_refuses_a_bad_one(tmp_path: Path) -> None:
    app = study_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        app.action_settings()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        field = screen.query_one("#setting-new_per_day", Input)
        assert field.value == "20"
        field.focus()
        field.value = "7"
        await pilot.press("enter")
        await pilot.pause()
        assert load_config(app.home).new_per_day == 7
        assert app.config.new_per_day == 7, "sessions started from now on use it"
        assert "saved new_per_day = 7" in str(screen.query_one("#settings-status", Static).render())
        hour = screen.query_one("#setting-rollover_hour", Input)
        hour.focus()
        hour.value = "25"
        await pilot.press("enter")
        await pilot.pause()
        status = screen.query_one("#settings-status", Static)
        assert "rollover_hour must be from 0 to 23, not 25" in str(status.render())
        assert status.has_class("-error")
        assert load_config(app.home).rollover_hour == 4
        text = app.home.config_path.read_text(encoding="utf-8")
        assert text == 'timezone = "UTC"\nnew_per_day = 7\n'


def help_lines(app: CardlabApp) -> str:
    assert isinstance(app.screen, HelpScreen)
    return str(app.screen.query_one("#help-text", Static).render())


@run_async
async def test_question_mark_shows_the_keys_of_the_screen_you_are_on(tmp_path: Path) -> None:
    app = study_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        shown = help_lines(app)
        assert app.screen.query_one("VerticalScroll").border_title == "Keys · Study"
        assert "Bury" in shown and "Custom study" in shown and "Statistics" not in shown
        assert "Again" not in shown, "the grades work only once the answer shows"
        await pilot.press("escape", "space", "question_mark")
        assert "Again" in help_lines(app) and "Show answer" not in help_lines(app)
        await pilot.press("escape")
        await pilot.press("escape", "escape")  # to the home screen
        await pilot.press("question_mark")
        shown = help_lines(app)
        assert "Stats" in shown and "Study the highlighted pack" in shown and "Bury" not in shown
        await pilot.press("escape")
        app.action_settings()
        await pilot.pause()
        app.action_help()  # (? types into the focused field here; the palette's "Keys" does this)
        await pilot.pause()
        assert "Back to where you were" in help_lines(app)


@run_async
async def test_toasts_stay_clear_of_the_answer_buttons(tmp_path: Path) -> None:
    app = study_app(tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("minus", "space")
        await pilot.pause(0.2)
        toasts = list(app.screen.query("Toast"))
        assert toasts, "bury should say so"
        bar = app.screen.query_one("#answer-bar").region
        assert all(not toast.region.overlaps(bar) for toast in toasts), (toasts[0].region, bar)
        front = app.screen.query_one("#front").region
        assert all(toast.region.bottom <= bar.y for toast in toasts), "toasts sit above the answer bar"
        assert all(not toast.region.overlaps(front) for toast in toasts), "... and clear of the question"
