"""Pilot tests: study a pack through the real app and check the review store after every step."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from cards.study_day import format_interval
from tests.tui.study_helpers import (
    HOSTILE_PACK,
    NOW,
    SAMPLE_PACK,
    SIZE,
    card_state,
    fixed_clock,
    make_home,
    reviews,
    run_async,
    screen_text,
    write_pack,
)
from tui.app import CardlabApp, StartupError, create_app
from tui.screens.home import HomeScreen
from tui.screens.study import StudyScreen
from tui.widgets.card_text import CardText
from tui.widgets.key_button import KeyButton


def study_app(tmp_path: Path, pack_text: str | None = None, settings: str = "") -> CardlabApp:
    home = make_home(tmp_path / "home")
    with home.config_path.open("a", encoding="utf-8") as config:
        config.write(settings)
    pack = write_pack(tmp_path, pack_text) if pack_text else write_pack(tmp_path)
    return create_app(home, pack_filter=str(pack), clock=fixed_clock())


def study_screen(app: CardlabApp) -> StudyScreen:
    screen = app.screen
    assert isinstance(screen, StudyScreen), f"expected the study screen, got {screen!r}"
    return screen


def shown_card(app: CardlabApp) -> str:
    card = study_screen(app).card
    assert card is not None, "no card on screen"
    return card.id


def markdown_text(app: CardlabApp, selector: str) -> str:
    return study_screen(app).query_one(selector, CardText).source


@run_async
async def test_the_answer_buttons_work_with_the_mouse(tmp_path: Path) -> None:
    app = study_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = study_screen(app)
        await pilot.click("#reveal")
        assert screen.revealed and screen.query_one("#grade-3").display
        await pilot.click("#grade-3")
        await pilot.pause()
        assert [(card_id, rating) for card_id, rating, _ in reviews(app.home)] == [("embedding", 3)]
        assert shown_card(app) != "embedding" and not screen.revealed


@run_async
async def test_reveal_then_each_grade_is_committed_before_the_next_card(tmp_path: Path) -> None:
    app = study_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = study_screen(app)
        assert shown_card(app) == "embedding"
        assert markdown_text(app, "#front") == "What is an **embedding**?"
        assert not screen.query_one("#back").display, "the back must stay hidden until revealed"

        answered: list[tuple[str, int]] = []
        for rating in (1, 2, 3, 4):
            card = screen.card
            assert card is not None
            expected = screen.session.preview_intervals(card)
            await pilot.press("space")
            assert screen.query_one("#back").display
            for grade in (1, 2, 3, 4):
                label = str(screen.query_one(f"#grade-{grade}", KeyButton).label)
                assert label.endswith(format_interval(expected[grade])), label
            await pilot.press(str(rating))
            answered.append((card.id, rating))
            stored = reviews(app.home)
            assert [(card_id, r) for card_id, r, _ in stored] == answered
            assert all(duration >= 0 for *_, duration in stored)
            assert card_state(app.home, card.id)["reps"] == 1
        # Again and Hard bring "embedding" and "dropout" back within minutes; the others moved on.
        assert card_state(app.home, "cold-start")["state"] == 2  # Easy on a new card: review state


@run_async
async def test_grades_are_ignored_until_the_answer_is_shown(tmp_path: Path) -> None:
    app = study_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3", "4")
        assert reviews(app.home) == []
        assert shown_card(app) == "embedding"
        await pilot.press("enter", "3")
        assert [r[:2] for r in reviews(app.home)] == [("embedding", 3)]
        await pilot.press("escape")  # started straight into studying: escape builds the home screen
        assert isinstance(app.screen, HomeScreen)
        assert len(app.screen_stack) == 2


@run_async
async def test_undo_restores_state_and_log_and_shows_the_card_again(tmp_path: Path) -> None:
    app = study_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space", "3", "space", "4")
        assert [r[:2] for r in reviews(app.home)] == [("embedding", 3), ("dropout", 4)]
        await pilot.press("u")
        assert [r[:2] for r in reviews(app.home)] == [("embedding", 3)]
        assert card_state(app.home, "dropout") is None, "undo of a first answer leaves no state behind"
        assert shown_card(app) == "dropout"
        assert not study_screen(app).revealed
        await pilot.press("u")
        assert reviews(app.home) == []
        assert shown_card(app) == "embedding"
        await pilot.press("u")  # nothing left to undo: nothing changes
        assert shown_card(app) == "embedding"


@run_async
async def test_bury_and_suspend_hide_the_card_and_are_stored(tmp_path: Path) -> None:
    app = study_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("minus")
        buried = card_state(app.home, "embedding")
        assert buried is not None and buried["buried_until_ms"] is not None and not buried["suspended"]
        assert shown_card(app) == "dropout"
        await pilot.press("s")
        assert card_state(app.home, "dropout")["suspended"] == 1
        assert shown_card(app) == "weight-decay"
        assert reviews(app.home) == [], "bury and suspend are not reviews"
        await pilot.press("u")
        assert card_state(app.home, "dropout") is None, "undo restores the card's state before suspend"
        assert shown_card(app) == "dropout"


@run_async
async def test_cloze_hides_the_active_deletion_and_fills_it_on_reveal(tmp_path: Path) -> None:
    app = study_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s", "s", "s", "s")  # suspend the four basic cards
        assert shown_card(app) == "ulmfit#c1"
        assert markdown_text(app, "#front") == "ULMFiT first trains a \\[...\\] on WikiText-103."
        await pilot.press("space")
        screen = study_screen(app)
        assert not screen.query_one("#front").display, "the filled-in text replaces the question"
        assert markdown_text(app, "#back").startswith(
            "ULMFiT first trains a **language model** on WikiText-103."
        )
        await pilot.press("3")
        assert [r[:2] for r in reviews(app.home)] == [("ulmfit#c1", 3)]
        assert card_state(app.home, "ulmfit#c2")["buried_until_ms"], "its sibling waits for tomorrow"
        assert shown_card(app) == "ulmfit#c1", "learning ahead: c1 again, not its sibling"
        await pilot.press("u")
        assert card_state(app.home, "ulmfit#c2") is None, "undo unburies the sibling"


@run_async
async def test_with_bury_siblings_off_the_next_cloze_card_comes_the_same_day(tmp_path: Path) -> None:
    app = study_app(tmp_path, settings="bury_siblings = false\n")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s", "s", "s", "s", "space", "3")
        assert shown_card(app) == "ulmfit#c2"
        assert markdown_text(app, "#front") == "ULMFiT first trains a language model on \\[a corpus\\]."


@run_async
async def test_when_nothing_is_due_the_summary_says_when_the_next_card_is(tmp_path: Path) -> None:
    app = study_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(5):  # four basic cards and ulmfit#c1 (its sibling c2 is buried until tomorrow)
            await pilot.press("space", "4")
        screen = study_screen(app)
        assert screen.card is None
        done = str(screen.query_one("#done-text").render())
        assert "Nothing left to study" in done
        assert "5 cards answered (0 Again, 0 Hard, 0 Good, 5 Easy)" in done
        assert "The next card is due on " in done
        assert len(reviews(app.home)) == 5


@run_async
async def test_where_and_lab_keys(tmp_path: Path) -> None:
    app = study_app(tmp_path)
    opened: list[tuple[str, str | None]] = []
    app.action_open_lab = lambda lab_id, card_id=None: opened.append((lab_id, card_id))  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l")  # "embedding" has no lab: the key does nothing
        assert opened == []
        await pilot.press("e")
        messages = [str(n.message) for n in app._notifications]
        assert any(message.endswith("sample.toml:9") for message in messages), messages
        await pilot.press("space", "4")
        assert shown_card(app) == "dropout"
        await pilot.press("l")
        assert opened == [("ulmfit-lm", "dropout")]


@run_async
async def test_hostile_card_text_is_shown_literally(tmp_path: Path) -> None:
    app = study_app(tmp_path, HOSTILE_PACK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        await pilot.pause()
        svg = app.export_screenshot()
        counts = str(study_screen(app).query_one("#counts").render())
        await pilot.press("e")  # instructor notes show with the card's location
        notes = [str(n.message) for n in app._notifications]
    assert "\x1b" not in svg and "\x07" not in svg
    assert any("[blink]notes[/blink] ␛[5m" in message for message in notes), notes
    shown = screen_text(svg)
    for literal in (
        "Is [bold]this bold[/bold]? [link=https://example.com]a link[/link] ␛[2J␛[31mRED",
        "[reverse]not reversed[/] and ␛]0;title␇ no title change",
    ):
        assert literal in shown, literal
    assert "Hostile [bold red]pack[/] ␛[31mred" in counts


@run_async
async def test_home_lists_packs_with_counts_and_enter_studies(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home", {"sample.toml": SAMPLE_PACK})
    (home.packs_dir / "broken.toml").write_text('[pack]\nid = "broken"\n', encoding="utf-8")
    app = create_app(home, clock=fixed_clock())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        assert any("broken.toml:" in error for error in app.library.errors)
        errors = str(app.screen.query_one("#load-errors-text").render())
        assert "broken.toml:" in errors
        pack_ids = [pack.id for pack in app.library.packs]
        assert "sample" in pack_ids
        table = app.screen.query_one("DataTable")
        row = pack_ids.index("sample")
        assert [str(cell) for cell in table.get_row_at(row)[1:]] == ["6", "0", "0", "0", "0", "6"]
        table.move_cursor(row=row)
        await pilot.press("enter")
        assert shown_card(app) == "embedding"
        await pilot.press("space", "1", "escape")
        assert isinstance(app.screen, HomeScreen)
        assert [str(cell) for cell in table.get_row_at(row)[1:]] == ["5", "1", "0", "0", "0", "6"]


@run_async
async def test_help_and_command_palette(tmp_path: Path) -> None:
    app = create_app(make_home(tmp_path / "home"), clock=fixed_clock())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("ctrl+p")
        await pilot.press(*"statistics")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert type(app.screen).__name__ == "StatsScreen"


def test_unusable_store_is_reported_and_kept(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    home.store_path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StartupError, match="review store.*cardlab doctor"):
        create_app(home)
    assert home.store_path.read_bytes() == b"this is not a database" * 100  # left for the doctor


def test_unknown_pack_names_the_packs_there_are(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="no pack with id 'nope'.*fastai-lesson4"):
        create_app(make_home(tmp_path / "home"), pack_filter="nope")


@run_async
async def test_a_card_changed_since_its_last_review_says_edited(tmp_path: Path) -> None:
    app = study_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space", "3")
        status = str(study_screen(app).query_one("#card-status").render())
        assert "edited" not in status
    pack = tmp_path / "sample.toml"
    pack.write_text(pack.read_text().replace("What is an **embedding**?", "What is an embedding?"))
    later = create_app(app.home, pack_filter=str(pack), clock=fixed_clock(NOW + timedelta(days=1)))
    async with later.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert shown_card(later) == "embedding", "the learning card is due again the next day"
        assert "edited" in str(study_screen(later).query_one("#card-status").render())
        assert len(reviews(later.home)) == 1, "its history is kept"


@run_async
async def test_an_unknown_lab_is_reported_not_opened(tmp_path: Path) -> None:
    app = study_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        app.action_open_lab("no-such-lab", "embedding")
        await pilot.pause()
        assert isinstance(app.screen, StudyScreen)
        assert any(n.severity == "error" and "no-such-lab" in n.message for n in app._notifications)


@run_async
async def test_l_on_the_home_screen_lists_the_labs(tmp_path: Path) -> None:
    from tui.screens.labs import LabsScreen

    app = create_app(make_home(tmp_path / "home"), clock=fixed_clock())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l")
        assert isinstance(app.screen, LabsScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen)


@run_async
async def test_bury_and_suspend_toasts_name_the_card_and_leave_the_question_and_buttons_clear(
    tmp_path: Path,
) -> None:
    from textual.widgets._toast import Toast

    long_front = "What does `drop_mult` scale? " + "It is a long question that fills the lines. " * 6
    app = study_app(tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("minus")  # buries embedding; dropout is shown
        await pilot.pause()
        study = study_screen(app)
        study.query_one("#front").update(long_front)  # the question fills the width of its first lines
        await pilot.press("s")  # suspends dropout
        await pilot.pause()
        messages = [str(toast.message) for toast in app._notifications]
        assert messages == [
            "buried embedding until tomorrow",
            "suspended dropout (b: the browser unsuspends it)",
        ]
        study.query_one("#front").update(long_front)
        await pilot.pause()
        front = study.query_one("#front").region
        bar = study.query_one("#answer-bar").region
        toasts = [toast.region for toast in app.screen.query(Toast)]
        assert len(toasts) == 2 and front.height >= 3
        for region in toasts:
            assert not region.overlaps(front), (region, front)
            assert not region.overlaps(bar), (region, bar)
