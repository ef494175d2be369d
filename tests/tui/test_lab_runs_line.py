"""The home and study screens say which labs run in the background and, in the past tense, how they ended."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from labs import registry
from tests.labs.fake_labs import COUNTING
from tests.tui.study_helpers import fixed_clock, make_home, run_async
from tests.tui.test_lab_screen import lab_app, lab_screen, wait_until
from tui.app import CardlabApp, create_app
from tui.screens.home import HomeScreen
from tui.screens.study import StudyScreen
from tui.widgets.lab_runs_line import LabRunsLine

SIZES = [(80, 24), (120, 36)]


@pytest.fixture(autouse=True)
def fake_labs() -> Iterator[None]:
    with registry.extra_labs(COUNTING):
        yield


def line_of(app: CardlabApp) -> LabRunsLine:
    return app.screen.query_one(LabRunsLine)


def said(app: CardlabApp) -> str:
    line = line_of(app)
    return str(line.render()) if line.display else ""


def toasts(app: CardlabApp) -> str:
    return " ".join(str(notification.message) for notification in app._notifications)


async def leave_a_run_going(app: CardlabApp, pilot, steps: str = "15", delay: str = "0.2") -> None:
    """Start the counting lab, then leave its screen with `k` (keep running). A few batches a second: a
    key press waits (up to 2 s) for the app to go idle, which a stream of batches puts off."""
    await pilot.pause()
    app.action_open_lab(COUNTING.id, None)
    await pilot.pause()
    screen = lab_screen(app)
    screen.query_one("#param-steps").value = steps
    screen.query_one("#param-delay").value = delay
    await pilot.press("ctrl+r")
    await wait_until(pilot, lambda: screen.lab_run is not None and len(screen.lab_run.events_since(0)) > 0)
    await pilot.press("escape", "k")
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
@run_async
async def test_the_study_screen_says_a_lab_runs_and_then_that_it_finished(tmp_path: Path, size) -> None:
    app = lab_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, StudyScreen) and not line_of(app).display  # nothing to say yet
        await leave_a_run_going(app, pilot)
        assert isinstance(app.screen, StudyScreen)
        await wait_until(pilot, lambda: "test-counting running" in said(app) or "finished" in said(app))
        run = app.services.lab_runs.get(COUNTING.id)
        assert run is not None
        await wait_until(pilot, lambda: "lab test-counting finished in the background" in said(app))
        await wait_until(pilot, lambda: "lab test-counting finished in the background" in toasts(app))
        line = line_of(app)
        assert line.region.height >= 1 and line.region.bottom <= size[1], line.region  # on screen
        await pilot.press("l")  # its lab screen shows how it ended: the study screen need not say it again
        assert lab_screen(app).lab_run is run
        await pilot.pause()
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, StudyScreen) and not line_of(app).display)


@pytest.mark.parametrize("size", SIZES)
@run_async
async def test_the_home_screen_says_a_lab_runs_in_the_background(tmp_path: Path, size) -> None:
    app = create_app(make_home(tmp_path / "home"), clock=fixed_clock())
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        await leave_a_run_going(app, pilot, steps="100000")
        assert isinstance(app.screen, HomeScreen)
        await wait_until(pilot, lambda: "▶ test-counting running" in said(app))
        run = app.services.lab_runs.get(COUNTING.id)
        run.cancel()
        await wait_until(pilot, lambda: "lab test-counting was cancelled in the background" in said(app))


@run_async
async def test_the_line_is_woken_by_the_runs_and_never_polls(tmp_path: Path) -> None:
    app = create_app(make_home(tmp_path / "home"), clock=fixed_clock())
    async with app.run_test(size=(120, 36)) as pilot:
        await leave_a_run_going(app, pilot, steps="100000")
        await wait_until(pilot, lambda: "▶ test-counting running" in said(app))
        line = line_of(app)
        repeating = [timer for timer in line._timers if timer._repeat != 0]  # set_interval repeats forever
        assert not repeating
        app.services.lab_runs.get(COUNTING.id).cancel()  # its end wakes the line
        await wait_until(pilot, lambda: "was cancelled in the background" in said(app))
