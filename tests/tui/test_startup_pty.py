"""Start-up as the user sees it: `bench/startup_pty.py` finds the first card's text in what a terminal
receives, for the app and for the floor; the card is in the first frame the app draws; the first card's
back, put off until the first frame is out, is drawn once it is."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.startup_pty import (
    BUNDLED_PACK,
    NEEDLE_CHARS,
    ROOT,
    first_card_text,
    run_until_text,
    seconds_to_text,
    visible_text,
)
from tests.tui.study_helpers import fixed_clock, make_home, run_async
from tui.app import create_app
from tui.screens.study import StudyScreen


def test_the_app_and_the_floor_show_the_first_card_text_on_a_terminal(tmp_path: Path) -> None:
    text = first_card_text()
    commands = (
        [sys.executable, "-m", "tui.cli", "--home", str(tmp_path / "home"), "study", BUNDLED_PACK],
        [sys.executable, str(ROOT / "bench" / "_floor_app.py"), "--text", text],
    )
    for command in commands:
        # raises when the text never comes
        seconds, cpu_seconds = seconds_to_text(command, text[:NEEDLE_CHARS])
        assert seconds > 0 and cpu_seconds >= 0


def test_the_first_frame_the_app_draws_has_the_card(tmp_path: Path) -> None:
    """Not the answer bar and key hints first, with the card a screen refresh (16 ms) later: what a study
    screen pushed inside Textual's start-up did."""
    text = first_card_text()[:NEEDLE_CHARS]
    command = [sys.executable, "-m", "tui.cli", "--home", str(tmp_path / "home"), "study", BUNDLED_PACK]
    _, _, output = run_until_text(command, text)
    seen = visible_text(output)
    before_the_card = seen[: seen.index(text)]
    assert "Show answer" not in before_the_card and "Browse" not in before_the_card, before_the_card


def test_escape_sequences_are_not_text() -> None:
    assert visible_text(b"\x1b[1;1H\x1b[38;5;75mHow \x1b[0mdoes\x1b]22;default\x07") == "How does"


@run_async
async def test_the_first_cards_back_is_drawn_after_the_first_frame(tmp_path: Path) -> None:
    app = create_app(make_home(tmp_path / "home"), pack_filter=BUNDLED_PACK, clock=fixed_clock())
    async with app.run_test() as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, StudyScreen) and screen.card is not None
        assert app.first_frame_out
        await pilot.pause()
        assert screen._back_of is screen.card, "the back waits for the first frame, not for a reveal"
