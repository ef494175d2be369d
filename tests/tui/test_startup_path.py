"""The way to the first card stays short: opening the app reads its arguments without argparse (and
exactly as argparse would), and what only later steps need is not imported before the first card."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import Static

from tests.tui.study_helpers import SIZE, run_async
from tests.tui.test_custom_study_app import study_app
from tui.cli import build_parser, plain_app_arguments
from tui.commands.study import run_study
from tui.screens.study import StudyScreen
from tui.widgets.key_hints import KeyHints
from tui.widgets.lab_runs_line import LabRunsLine

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "arguments",
    [
        [],
        ["--home", "h"],
        ["study", "fastai-lesson4"],
        ["--home", "h", "study", "fastai-lesson4"],
        ["study", "my pack.toml", "--home", "h"],
        ["--home", "h", "study", "p", "--home", "later"],
        ["study", "study"],
    ],
)
def test_opening_the_app_reads_its_arguments_as_the_parser_does(arguments: list[str]) -> None:
    plain = plain_app_arguments(arguments)
    parsed = build_parser(arguments).parse_args(arguments)
    assert plain == (getattr(parsed, "home", None), getattr(parsed, "pack", None))
    assert getattr(parsed, "handler", None) is (run_study if "study" in arguments else None)


@pytest.mark.parametrize(
    "arguments",
    [
        ["--home"],
        ["--home", ""],
        ["--home", "-x"],
        ["--home=h"],
        ["--hom", "h"],
        ["--home", "a", "--home", "b"],
        ["--debug"],
        ["--help"],
        ["--version"],
        ["study"],
        ["study", "-p"],
        ["study", "--", "p"],
        ["study", "p", "q"],
        ["study", "p", "--home"],
        ["study", "p", "--json"],
        ["stats"],
        ["pack", "check", "p.toml"],
    ],
)
def test_anything_else_is_left_to_the_parser(arguments: list[str]) -> None:
    assert plain_app_arguments(arguments) is None


# Imported on the way to the first card they would cost start-up time; each is needed only later (a
# preview or an answer, a rename, `e`, a Markdown back, another command, links.json, a pack parsed
# rather than read from the cache, the line about background labs).
NOT_BEFORE_THE_FIRST_CARD = (
    "argparse",
    "json",
    "hashlib",
    "fsrs",
    "cards.renames",
    "tui.editor",
    "markdown_it",
    "tui.widgets.lab_runs_line",
)

FIRST_CARD_MODULES = """
import asyncio, sys
from tui.cli import plain_app_arguments
home, pack = plain_app_arguments(["--home", sys.argv[1], "study", "fastai-lesson4"])
from cards.paths import Home
from tui.app import create_app
from tui.commands.study import open_app  # what `cardlab study` imports before creating the app

async def first_card() -> list[str]:
    app = create_app(Home.at(home), pack_filter=pack)
    async with app.run_test(size=(100, 30)):
        assert app.screen.card is not None
        return sorted(sys.modules)

print(" ".join(asyncio.run(first_card())))  # not json: it is one of the modules looked for
"""


def test_the_first_card_shows_without_what_only_later_steps_need(tmp_path: Path) -> None:
    from cards.discover import discover_packs
    from cards.paths import Home

    discover_packs(Home.at(tmp_path))  # the pack cache, as after the first start: no TOML parsing
    done = subprocess.run(
        [sys.executable, "-c", FIRST_CARD_MODULES, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    modules = set(done.stdout.strip().splitlines()[-1].split())
    assert "tui.screens.study" in modules, "the study screen did not open"
    assert not modules & set(NOT_BEFORE_THE_FIRST_CARD), sorted(modules & set(NOT_BEFORE_THE_FIRST_CARD))


# The study screen's widgets in document order, once all are mounted: the front first (with what it
# needs), the rest after the first frame (`StudyScreen._mount_hidden_parts`) in the same places.
STUDY_SCREEN_IDS = [
    "counts",
    "card-view",
    "card-scroll",
    "front",
    "divider",
    "back",
    "card-notes",
    "card-status",
    "answer-bar",
    "reveal",
    "grade-1",
    "grade-2",
    "grade-3",
    "grade-4",
    "done-view",
    "done-text",
    "done-custom",
    "lab-runs",
]


def hints_text(screen: StudyScreen) -> str:
    """The keys line as drawn (it is worked out at the paint after the bindings change)."""
    return str(screen.query_one(KeyHints).render())


def widget_ids(screen: StudyScreen) -> list[str]:
    """The ids of the screen's widgets in document order (the lab runs line has none: "lab-runs")."""
    found = []
    for node in screen.walk_children(with_self=False):
        if isinstance(node, LabRunsLine):
            found.append("lab-runs")
        elif node.id in STUDY_SCREEN_IDS:
            found.append(node.id)
    return found


@run_async
async def test_what_the_front_does_not_show_is_mounted_after_it_in_its_place(tmp_path: Path) -> None:
    app = study_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, StudyScreen) and screen.card is not None
        assert widget_ids(screen) == STUDY_SCREEN_IDS
        assert not screen.query_one("#back").display and not screen.query_one("#done-view").display
        assert screen.focused is screen.query_one("#card-scroll"), "focused after the first frame"
        assert "space Show answer" in hints_text(screen) and "1 Again" not in hints_text(screen)
        await pilot.press("space")
        assert screen.query_one("#back").display and screen.query_one("#grade-3").display
        await pilot.pause()
        assert "1 Again" in hints_text(screen) and "Show answer" not in hints_text(screen)


@run_async
async def test_a_session_with_nothing_to_study_shows_the_done_view_at_once(tmp_path: Path) -> None:
    app = study_app(tmp_path, settings="new_per_day = 0\n")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, StudyScreen) and screen.card is None
        assert widget_ids(screen) == STUDY_SCREEN_IDS
        assert screen.query_one("#done-view").display and not screen.query_one("#card-view").display
        assert screen.focused is screen.query_one("#card-scroll"), "as Textual's auto focus would leave it"
        assert "Nothing left to study" in str(screen.query_one("#done-text", Static).render())
