"""The lab screen in the real app: opened from a card, live chart, cancel, keep running, errors."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Button, DataTable, RadioSet

from labs import registry
from tests.labs.fake_labs import COUNTING, FAILING, TWO_SCALES, VERDICT_CLAIM
from tests.tui.study_helpers import SIZE, fixed_clock, make_home, run_async, write_pack
from tui.app import CardlabApp, create_app
from tui.screens.lab import LabScreen, LeaveRunningLab
from tui.screens.study import StudyScreen
from tui.widgets.lab_params import LabParams
from tui.widgets.loss_chart import LossChart

LAB_PACK = """\
[pack]
id = "labbed"
title = "Cards with labs"
version = "1.0.0"
authors = ["tests"]
description = "A card whose lab is a test lab."
format = 1

[[cards]]
id = "counting"
front = "Does the loss go down?"
back = "Yes."
lab = "test-counting"
"""


@pytest.fixture(autouse=True)
def fake_labs() -> Iterator[None]:
    with registry.extra_labs(COUNTING, FAILING, TWO_SCALES):
        yield


def lab_app(tmp_path: Path) -> CardlabApp:
    home = make_home(tmp_path / "home")
    return create_app(
        home, pack_filter=str(write_pack(tmp_path, LAB_PACK, "labbed.toml")), clock=fixed_clock()
    )


async def wait_until(pilot: Pilot, condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the lab screen")
        await pilot.pause(0.05)


def lab_screen(app: CardlabApp) -> LabScreen:
    assert isinstance(app.screen, LabScreen), f"expected the lab screen, got {app.screen!r}"
    return app.screen


def status(app: CardlabApp) -> str:
    return str(lab_screen(app).query_one("#lab-status").render())


def outputs(screen: LabScreen) -> str:
    return "\n".join(str(line.text) for line in screen.query_one("#outputs").lines)


async def open_lab(app: CardlabApp, pilot: Pilot, lab_id: str) -> LabScreen:
    await pilot.pause()
    app.action_open_lab(lab_id, None)
    await pilot.pause()
    return lab_screen(app)


async def run_two_scales(
    app: CardlabApp, pilot: Pilot, verdict: str, predict: int | None = None
) -> LabScreen:
    """Runs the two-scales lab to the end with the verdict `verdict`, predicting choice `predict`."""
    screen = await open_lab(app, pilot, TWO_SCALES.id)
    screen.query_one("#param-verdict").value = verdict
    if predict is not None:
        screen.query("#question RadioButton")[predict].value = True
    await pilot.press("ctrl+r")
    await wait_until(pilot, lambda: "finished" in status(app))
    await pilot.pause()
    return screen


@run_async
async def test_open_from_card_watch_points_arrive_cancel_and_return(tmp_path: Path) -> None:
    app = lab_app(tmp_path)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, StudyScreen)
        await pilot.press("l")
        screen = lab_screen(app)
        assert screen.card_id == "counting"
        screen.query_one("#param-steps").value = "100000"  # long enough to cancel mid-way
        # a few batches a second: a key press waits (up to 2 s) for the app to go idle
        screen.query_one("#param-delay").value = "0.1"
        await pilot.press("ctrl+r")
        chart = screen.query_one(LossChart)
        await wait_until(pilot, lambda: chart.point_count > 5)
        assert "count" in str(screen.query_one("#lab-steps").render())
        await pilot.press("c")
        await wait_until(pilot, lambda: screen.lab_run.done)
        await wait_until(pilot, lambda: "cancelled" in status(app))
        assert screen.lab_run.status == "cancelled"
        await pilot.press("escape")  # a stopped lab leaves without asking
        assert isinstance(app.screen, StudyScreen) and app.screen.card.id == "counting"


@run_async
async def test_leaving_keeps_the_run_going_and_reopening_replays_it(tmp_path: Path) -> None:
    app = lab_app(tmp_path)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        await pilot.press("l")
        screen = lab_screen(app)
        screen.query_one("#param-steps").value = "100000"
        # a few batches a second: a key press waits (up to 2 s) for the app to go idle
        screen.query_one("#param-delay").value = "0.2"
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: screen.query_one(LossChart).point_count > 0)
        await pilot.press("escape")
        assert isinstance(app.screen, LeaveRunningLab)
        await pilot.press("k")
        assert isinstance(app.screen, StudyScreen)
        run = app.services.lab_runs.get("test-counting")
        assert not run.done, "keep running means the lab goes on in the background"
        await pilot.press("l")
        reopened = lab_screen(app)
        assert reopened.lab_run is run
        await wait_until(pilot, lambda: reopened.query_one(LossChart).point_count > 0)
        await pilot.press("escape", "s")  # leave, stopping it this time
        await wait_until(pilot, lambda: run.done)
        assert run.status == "cancelled" and isinstance(app.screen, StudyScreen)


@run_async
async def test_a_finished_run_compares_the_prediction_and_saves(tmp_path: Path) -> None:
    app = lab_app(tmp_path)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        await pilot.press("l")
        screen = lab_screen(app)
        screen.query_one("#preset").value = "smoke"
        await pilot.pause()
        assert screen.query_one("#param-delay").value == "0.0"
        await pilot.click("#question RadioButton")  # predicts "down"
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "finished" in status(app))
        log = "\n".join(str(line.text) for line in screen.query_one("#outputs").lines)
        assert "this run: down" in log and "as you predicted" in log
        table = screen.query_one("#epochs")
        assert table.row_count == 1
        assert (app.home.runs_dir / screen.lab_run.run_id / "run.json").is_file()
        predict = screen.query_one("#predict")
        assert predict.display, "a lab that can predict offers the input once trained"
        await pilot.press("p")  # the predictor's key: a click can land before the box is laid out
        await pilot.pause()
        assert screen.focused is predict
        await pilot.press(*"one two three", "enter")
        await wait_until(
            pilot,
            lambda: "3 words" in "\n".join(str(line.text) for line in screen.query_one("#outputs").lines),
        )


@run_async
async def test_a_failing_lab_shows_its_error_and_the_app_stays_alive(tmp_path: Path) -> None:
    app = lab_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.action_open_lab("test-failing", None)
        await pilot.pause()
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "failed" in status(app))
        assert "the lab broke on purpose" in status(app)
        await pilot.press("escape")
        assert isinstance(app.screen, StudyScreen)
        await pilot.press("space")  # the app still studies
        assert app.screen.revealed


@run_async
async def test_keys_stay_responsive_while_a_lab_trains(tmp_path: Path) -> None:
    """Keys are handled while the lab runs flat out: each key press reaches its action while the run is
    still training, and the run goes on producing losses between and after them. No clock: how fast a
    key is handled on a quiet machine is measured by bench/lab_keys.py. (Pilot.press waits for an idle
    CPU, which never comes while training, so the key is posted directly.)"""
    app = lab_app(tmp_path)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        await pilot.press("l")
        screen = lab_screen(app)
        screen.query_one("#param-steps").value = "1000000"
        screen.query_one("#param-delay").value = "0.0"  # the lab thread never sleeps
        await pilot.press("ctrl+r")
        chart = screen.query_one(LossChart)
        await wait_until(pilot, lambda: chart.point_count > 100)
        run = screen.lab_run
        assert run is not None
        handled: list[tuple[bool, int]] = []  # (run done?, events so far) when each key was handled
        toggle = screen.action_toggle_overlay
        overlay_before = screen._overlay_shown

        def noting_toggle() -> None:
            handled.append((run.done, len(run.events_since(0))))
            toggle()

        screen.action_toggle_overlay = noting_toggle  # type: ignore[method-assign]
        for _ in range(5):
            app.post_message(events.Key("o", "o"))
            await wait_until(pilot, lambda n=len(handled): len(handled) > n)
        events_after_keys = len(run.events_since(0))
        await wait_until(pilot, lambda: len(run.events_since(0)) > events_after_keys)
        still_training = not run.done
        run.cancel()
        await wait_until(pilot, lambda: run.done)
    assert len(handled) == 5 and screen._overlay_shown is not overlay_before  # each key toggled once
    assert not any(done for done, _ in handled), handled  # every key was handled while the lab ran
    assert still_training and run.status == "cancelled"  # ... and the lab was still training after them


@run_async
async def test_the_labs_list_opens_the_highlighted_lab(tmp_path: Path) -> None:
    from tui.screens.labs import LabsScreen

    app = lab_app(tmp_path)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        app.push_screen(LabsScreen())
        await pilot.pause()
        assert "learning rate" in str(app.screen.query_one("#lab-summary").render())  # lr-find comes first
        await pilot.press("down", "enter")
        assert lab_screen(app).info.id == "ulmfit-lm"
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, StudyScreen)


@run_async
async def test_a_bad_parameter_is_reported_without_running(tmp_path: Path) -> None:
    app = lab_app(tmp_path)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        await pilot.press("l")
        lab_screen(app).query_one("#param-steps").value = "many"
        await pilot.press("ctrl+r")
        assert "steps: 'many' is not a valid int" in status(app)
        assert lab_screen(app).lab_run is None


@run_async
async def test_the_question_and_run_are_the_first_two_tab_stops(tmp_path: Path) -> None:
    app = lab_app(tmp_path)
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await open_lab(app, pilot, COUNTING.id)
        await pilot.press("tab")
        assert isinstance(screen.focused, RadioSet) and screen.focused.id == "question"
        await pilot.press("tab")
        assert isinstance(screen.focused, Button) and screen.focused.id == "run-button"
        await pilot.press("enter")  # Run, from the keyboard alone
        await wait_until(pilot, lambda: screen.lab_run is not None and screen.lab_run.done)
        prompt, run_button = screen.query_one("#question-prompt"), screen.query_one("#run-button")
        assert prompt.region.y < run_button.region.y < screen.query_one("#preset").region.y


@run_async
async def test_a_parameters_help_is_shown_whole(tmp_path: Path) -> None:
    app = lab_app(tmp_path)
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await open_lab(app, pilot, COUNTING.id)
        help_text = COUNTING.param("delay").help
        label = next(w for w in screen.query(".param-help") if "delay" in str(w.render()))
        side = screen.query_one("#lab-side")
        assert label.region.right <= side.region.right
        shown = " ".join(strip.text.strip() for strip in label.render_lines(label.region.reset_offset))
        assert help_text in " ".join(shown.split()), shown


@run_async
async def test_a_language_model_and_a_classifier_are_both_readable_and_their_rows_differ(
    tmp_path: Path,
) -> None:
    app = lab_app(tmp_path)
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await run_two_scales(app, pilot, "agrees")
        chart = screen.query_one(LossChart)
        panels = str(chart.render()).count("└")
        assert panels == 2, str(chart.render())
        table = screen.query_one("#epochs", DataTable)
        stages = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert stages == ["language model · general LM", "language model · review LM", "classifier"]


@run_async
async def test_a_finished_run_shows_its_verdict(tmp_path: Path) -> None:
    app = lab_app(tmp_path)
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await run_two_scales(app, pilot, "agrees", predict=0)
        log = outputs(screen)
        assert f"claim: {VERDICT_CLAIM}" in log  # the claim's markup shows as typed
        assert "→ this run agrees  (effect +0.12 ± 0.03)" in log
        assert "this run: helps  ✓ as you predicted" in log


@run_async
async def test_a_finished_run_shows_its_answer_and_verdict_from_the_top_in_a_small_terminal(
    tmp_path: Path,
) -> None:
    from tui.widgets.output_log import OutputLog

    app = lab_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await run_two_scales(app, pilot, "agrees", predict=0)
        await pilot.pause()
        log = screen.query_one("#outputs", OutputLog)
        texts = [line.text for line in log.lines]
        first = next(i for i, text in enumerate(texts) if text.startswith("this run: helps"))
        assert first + log.scrollable_content_region.height < len(texts)  # the report is taller than the pane
        assert log.scroll_y == first  # the answer first: it had scrolled to the report's last lines
        assert texts[first - 1] == TWO_SCALES.question.prompt  # above it, as the sidebar shows it
        await pilot.resize_terminal(100, 24)  # the entries are wrapped again: the answer stays on top
        await pilot.pause()
        await pilot.pause()
        texts = [line.text for line in log.lines]
        assert log.scroll_y == next(i for i, text in enumerate(texts) if text.startswith("this run: helps"))


@run_async
async def test_an_inconclusive_run_gives_no_clear_answer_instead_of_a_check(tmp_path: Path) -> None:
    app = lab_app(tmp_path)
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await run_two_scales(app, pilot, "inconclusive", predict=1)
        log = outputs(screen)
        assert "this run: no clear answer on this run  (you predicted hurts)" in log
        assert "✓" not in log and "✗" not in log
        assert "→ inconclusive: effect +0.01 ± 0.03, within the noise" in log


@run_async
async def test_a_machine_with_several_gpus_offers_one_process_per_gpu(tmp_path: Path, monkeypatch) -> None:
    from textual.widgets import Select

    from labs import launch

    monkeypatch.setattr(launch, "gpu_count", lambda: 1)
    app = lab_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_lab(app, pilot, "test-counting")
        assert (
            not screen.query("#nproc") and screen.query_one(LabParams).launch() == launch.Launch()
        )  # one GPU or none
    monkeypatch.setattr(launch, "gpu_count", lambda: 4)
    app = lab_app(tmp_path / "again")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_lab(app, pilot, "test-counting")
        choice = screen.query_one("#nproc", Select)
        assert [str(label) for label, _ in choice._options] == ["1", "2", "3", "4"]
        choice.value = 4
        await pilot.pause()
        assert screen.query_one(LabParams).launch() == launch.Launch(nproc=4)
