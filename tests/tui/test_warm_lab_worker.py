"""The app keeps one lab worker warm (`labs.warm`) once a lab screen is open and no lab runs; a run takes
it; quitting ends and reaps the one still waiting."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import tui.app as tui_app
from labs import registry, warm
from tests.labs.fake_labs import COUNTING
from tests.labs.test_idle_workers import process_state, settle
from tests.tui.study_helpers import run_async
from tests.tui.test_lab_screen import lab_app, lab_screen, open_lab, wait_until

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
    pytest.mark.usefixtures("warm_lab_worker"),
]


@pytest.fixture(autouse=True)
def counting_lab() -> Iterator[None]:
    warm.discard()
    with registry.extra_labs(COUNTING):
        yield
    warm.discard()


def gone(pid: int) -> bool:
    return settle(lambda: process_state(pid) is None, timeout=30)


@run_async
async def test_a_lab_screen_warms_a_worker_its_run_takes_and_quitting_ends_the_next(tmp_path: Path) -> None:
    app = lab_app(tmp_path)
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await open_lab(app, pilot, COUNTING.id)
        await wait_until(pilot, lambda: warm.waiting_pid() is not None)  # WARM_AFTER_S after it shows
        first = warm.waiting_pid()
        assert first is not None
        warm_timers = [timer for timer in app._timers if timer.name == "warm lab worker"]
        assert all(timer._repeat == 0 for timer in warm_timers), "no polling: one-shot checks"
        screen.query_one("#param-steps").value = "100000"  # long enough to be running while checked
        # a few batches a second: a key press waits (up to 2 s) for the app to go idle
        screen.query_one("#param-delay").value = "0.2"
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: screen.lab_run is not None and screen.lab_run.started)
        run = screen.lab_run
        assert run._process is not None and run._process.pid == first, "the run took the warm worker"
        app._keep_a_lab_worker_warm()
        assert warm.waiting_pid() is None, "no worker competes with a running lab"
        await pilot.press("c")
        await wait_until(pilot, lambda: run.done)
        await wait_until(pilot, lambda: warm.waiting_pid() is not None)
        waiting = warm.waiting_pid()
        assert waiting is not None and waiting != first and lab_screen(app) is screen
    assert warm.waiting_pid() is None
    assert gone(waiting), "quitting ended the waiting worker and reaped it"
    assert gone(first)


@run_async
async def test_no_worker_is_started_for_a_lab_screen_that_was_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The timer never fires here: on a loaded machine the lab screen could show for WARM_AFTER_S and
    # rightly warm a worker before the escape lands. The check is made by hand, after leaving.
    monkeypatch.setattr(tui_app, "WARM_AFTER_S", 3600.0)
    app = lab_app(tmp_path)
    async with app.run_test(size=(140, 45)) as pilot:
        await open_lab(app, pilot, COUNTING.id)
        await pilot.press("escape")
        await pilot.pause()
        app._keep_a_lab_worker_warm()  # what the app's one-shot timer calls
        assert warm.waiting_pid() is None


@run_async
async def test_a_check_due_as_the_app_closes_starts_nothing(tmp_path: Path) -> None:
    app = lab_app(tmp_path)
    async with app.run_test(size=(140, 45)) as pilot:
        await open_lab(app, pilot, COUNTING.id)
    assert not app.screen_stack
    app._keep_a_lab_worker_warm()  # a one-shot check that fires while the app closes: no screen is left
    assert warm.waiting_pid() is None
