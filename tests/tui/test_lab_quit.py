"""Quitting while a lab trains saves its partial run and leaves nothing running; the leave-lab dialog reads
whole at 80×24; a review store that breaks while the app runs is a notice, not a crash."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from textual.app import App
from textual.widgets import Label

from labs.runner import LabRun
from labs.runs import list_runs
from tests.tui.study_helpers import run_async
from tests.tui.test_lab_screen import fake_labs, lab_app, lab_screen, wait_until  # noqa: F401
from tui.app import CardlabApp
from tui.screens.home import HomeScreen
from tui.screens.lab import LabScreen, LeaveRunningLab
from tui.screens.study import StudyScreen
from tui.widgets.loss_chart import LossChart


async def start_long_run(app: CardlabApp, pilot) -> LabScreen:
    await pilot.pause()
    await pilot.press("l")  # the card's lab
    screen = lab_screen(app)
    screen.query_one("#param-steps").value = "100000"
    # a few batches a second: a key press waits (up to 2 s) for the app to go idle
    screen.query_one("#param-delay").value = "0.1"
    await pilot.press("ctrl+r")
    await wait_until(pilot, lambda: screen.query_one(LossChart).point_count > 3)
    return screen


def assert_stopped_and_saved(app: CardlabApp, run: LabRun) -> None:
    (record,) = list_runs(app.home.runs_dir)
    assert record.run_id == run.run_id and record.status == "cancelled"
    assert record.curves["train"], "the batches before quitting are in the saved run"
    assert run._process is not None and run._process.poll() is not None, "the lab's process outlived the app"
    assert not any(reader.is_alive() for reader in run._readers), "a reader thread outlived the app"


@run_async
async def test_ctrl_q_on_the_lab_screen_saves_the_run_and_exits_0(tmp_path: Path) -> None:
    app = lab_app(tmp_path)
    async with app.run_test(size=(140, 45)) as pilot:
        run = (await start_long_run(app, pilot)).lab_run
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: app._exit)
    assert app.return_code == 0 and run is not None
    assert_stopped_and_saved(app, run)


@run_async
async def test_keep_running_then_quit_from_the_packs_saves_the_run(tmp_path: Path) -> None:
    app = lab_app(tmp_path)
    async with app.run_test(size=(140, 45)) as pilot:
        run = (await start_long_run(app, pilot)).lab_run
        await pilot.press("escape")
        assert isinstance(app.screen, LeaveRunningLab)
        await pilot.press("k", "escape")
        assert isinstance(app.screen, HomeScreen) and run is not None and not run.done
        await pilot.press("q")
        await wait_until(pilot, lambda: app._exit)
    assert app.return_code == 0 and run.status == "cancelled"
    assert_stopped_and_saved(app, run)


@run_async
async def test_the_leave_dialog_text_is_whole_at_80x24(tmp_path: Path) -> None:
    app = lab_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(LeaveRunningLab())
        await pilot.pause()
        label = app.screen.query_one(Label)
        dialog = label.parent
        assert dialog is not None and dialog.content_region.contains_region(label.region), (
            f"the text ({label.region}) overflows its dialog ({dialog.content_region}) and is cut"
        )
        shown = " ".join(strip.text.strip() for strip in label.render_lines(label.region.reset_offset))
        assert " ".join(shown.split()) == str(label.render()).strip()
        assert "in the background, or stop it?" in shown
        await pilot.press("escape")


class LeaveDialogAlone(App[None]):
    def on_mount(self) -> None:
        self.push_screen(LeaveRunningLab())


def test_leave_dialog_snapshot(snap_compare) -> None:
    assert snap_compare(LeaveDialogAlone(), terminal_size=(80, 24))


@run_async
async def test_a_store_damaged_while_the_app_runs_is_a_notice_naming_doctor(tmp_path: Path) -> None:
    app = lab_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, StudyScreen)
        with sqlite3.connect(app.home.store_path) as other:  # another process breaks the store
            other.execute("DROP TABLE card_state")
        await pilot.press("escape")  # the packs' counts read the store
        await pilot.press("s")  # so do the statistics
        await pilot.pause()
        messages = [str(notice.message) for notice in app._notifications]
        assert len(messages) >= 2 and all("cardlab doctor" in m for m in messages), messages
        assert "no such table: card_state" in messages[0]
        assert not app._exit and app.return_code is None
        await pilot.press("escape")  # the app still navigates
        assert isinstance(app.screen, HomeScreen)
