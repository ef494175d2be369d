"""The lab screen's keys and what it shows, at 80x24 and 120x36: Run from a field (ctrl+r) leaves the field
as typed, a field refuses what its parameter cannot hold, typing with no field focused starts nothing, the
predictor has a key and stays on screen, `?` lists every key, no wrapped output line loses characters, and
a seed comparison is drawn one line per arm with a band (every seed's curve on `s`).

Most tests replay a finished run's events (`ReplayRun`, no process): what the screen draws is then the same
on every machine, and snapshots can be taken of it.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import Input

from labs import registry
from labs.events import (
    BatchLoss,
    EpochRow,
    Finished,
    LabEvent,
    Progress,
    StageStarted,
    TextOutput,
    seed_series,
)
from labs.run_state import RunState
from tests.labs.fake_labs import COUNTING, TWO_SCALES
from tests.tui.study_helpers import run_async
from tests.tui.test_lab_screen import lab_app, open_lab, status, wait_until
from tui.app import CardlabApp
from tui.screens.help import screen_keys
from tui.screens.lab import LabScreen
from tui.widgets.loss_chart import LossChart
from tui.widgets.output_log import OutputLog

SIZES = [(80, 24), (120, 36)]

# Long lines of the kind that lost their ends ("a rando[m] 10% of ratings", "from the mod[el] store").
TEXTS = [
    "The validation set is a random 10% of ratings, held out before training, so the model never sees them.",
    "Each categorical column adds an is-missing (_na) column for its blanks; continuous ones get the median.",
    "The pretrained language model comes from the model store: fine-tuning starts from those weights.",
]
ARMS = ("lr 1e-3", "lr 1e-2", "lr 1e-1")
SEEDS = 5


@pytest.fixture(autouse=True)
def fake_labs() -> Iterator[None]:
    with registry.extra_labs(COUNTING, TWO_SCALES):
        yield


class ReplayRun:
    """A finished run of the counting lab, replayed from its events: no process, the same on every machine."""

    def __init__(self, events: list[LabEvent], predictor: object = None) -> None:
        self._events = events
        self.state = RunState()
        for event in events:
            self.state.apply(event)
        self.predictor = predictor
        self.done, self.cancel_requested = True, False
        self.save_error = None
        self.run_id = "replayed-run"
        self.status = "finished"
        self.asked: list[str] = []

    def events_since(self, cursor: int) -> list[LabEvent]:
        return self._events[cursor:]

    @contextlib.contextmanager
    def reading(self) -> Iterator[RunState]:
        yield self.state

    def listen(self, wake: object) -> None:
        pass  # every event is there from the start

    def unlisten(self, wake: object) -> None:
        pass


def seeded_events() -> list[LabEvent]:
    """Three arms × five seeds, 30 steps each, then the long texts and the end."""
    events: list[LabEvent] = [StageStarted(name="count", index=0)]
    plan = len(ARMS) * SEEDS * 30
    done = 0
    for a, arm in enumerate(ARMS):
        for seed in range(SEEDS):
            series = seed_series(arm, seed)
            for step in range(1, 31):
                loss = (1.0 + a) * math.exp(-step / 10) + 0.02 * seed + 0.1
                events.append(BatchLoss(stage="count", step=step, epoch=0, loss=loss, series=series))
                done += 1
            events.append(Progress(done=done, total=plan, eta=float(plan - done) / 100))
            events.append(
                EpochRow(
                    stage="count",
                    epoch=0,
                    train_loss=0.2 + a / 10,
                    valid_loss=0.25 + a / 10 + seed / 100,
                    metrics={"accuracy": 0.9},
                    seconds=0.5,
                    series=series,
                )
            )
    events += [TextOutput(text=text) for text in TEXTS]
    events.append(Finished(result={"steps": 30, "outcome": "down"}, seconds=12.0))
    return events


async def replayed(app: CardlabApp, pilot, predictor: object = None) -> tuple[LabScreen, ReplayRun]:
    screen = await open_lab(app, pilot, COUNTING.id)
    run = ReplayRun(seeded_events(), predictor)
    screen._follow_run(run)  # type: ignore[arg-type]
    screen._update_buttons()
    await pilot.pause()
    await pilot.pause()
    return screen, run


def words(text: str) -> str:
    return " ".join(text.split())


def pane_rows(app: CardlabApp, log: OutputLog) -> list[str]:
    """The characters the terminal shows inside the output pane (its scrollbar's column left out)."""
    region = log.scrollable_content_region
    update = app.screen._compositor.render_full_update()
    rows = []
    for y in range(region.y, region.bottom):
        line = Text()
        for strip in update.strips[y]:  # type: ignore[index]
            for segment in strip:
                line.append(segment.text)
        rows.append(line.plain[region.x : region.right])
    return rows


# -- keys and focus ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
@run_async
async def test_run_from_a_focused_field_runs_and_leaves_the_field_as_it_was(tmp_path: Path, size) -> None:
    app = lab_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        screen = await open_lab(app, pilot, COUNTING.id)
        screen.query_one("#preset").value = "smoke"
        await pilot.pause()
        field = screen.query_one("#param-steps", Input)
        field.focus()
        await pilot.pause()
        before = field.value
        footer = {binding.key for (_, binding, enabled, _) in screen.active_bindings.values() if enabled}
        assert "ctrl+r" in footer, "Run is in the footer while a field has focus"
        await pilot.press("r")  # a letter in a field is text (refused here: steps holds an integer)
        assert field.value == before and screen.lab_run is None
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: screen.lab_run is not None and screen.lab_run.done)
        assert field.value == before and screen.focused is field
        assert screen.lab_run.status == "finished", status(app)


@pytest.mark.parametrize("size", SIZES)
@run_async
async def test_a_value_a_field_cannot_hold_is_refused_in_the_field(tmp_path: Path, size) -> None:
    app = lab_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        screen = await open_lab(app, pilot, TWO_SCALES.id)
        field = screen.query_one("#param-verdict", Input)
        field.focus()
        await pilot.press("end", "r")  # a choice field holds text: `r` stays a character
        await pilot.pause()
        assert field.value == "agreesr"
        said = str(screen.query_one("#param-error-verdict").render())
        assert "'agreesr' is not one of agrees, disagrees, inconclusive" in said
        await pilot.press("ctrl+r")  # refused before any run starts
        await pilot.pause()
        assert screen.lab_run is None and screen.focused is field
        assert "is not one of" in status(app)
        await pilot.press("backspace")
        await pilot.pause()
        assert str(screen.query_one("#param-error-verdict").render()).strip() == ""


@run_async
async def test_an_integer_field_takes_no_letters(tmp_path: Path) -> None:
    app = lab_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lab(app, pilot, COUNTING.id)
        field = screen.query_one("#param-steps", Input)
        field.focus()
        await pilot.press("end", "x", "1", "r")
        assert field.value == "401"


@pytest.mark.parametrize("size", SIZES)
@run_async
async def test_typing_into_an_unfocused_predictor_starts_nothing(tmp_path: Path, size) -> None:
    app = lab_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        screen, run = await replayed(app, pilot, predictor=lambda text: f"{len(text)} chars")
        log = screen.query_one(OutputLog)
        shown = list(log.entries)
        assert not isinstance(screen.focused, Input)
        await pilot.press(*"age=25, education=hs-grad, run r")
        await pilot.pause()
        assert screen.lab_run is run, "no letter starts a run"
        assert log.entries[: len(shown)] == shown, "the results being read stay"


@pytest.mark.parametrize("size", SIZES)
@run_async
async def test_the_predictor_key_focuses_it_and_it_is_on_screen(tmp_path: Path, size) -> None:
    app = lab_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        screen, _ = await replayed(app, pilot, predictor=lambda text: f"{len(text.split())} words")
        box = screen.query_one("#predict", Input)
        assert box.display
        region = box.region
        assert region.height == 3 and region.bottom <= size[1] - 1, region  # whole, above the footer
        await pilot.press("p")
        assert screen.focused is box
        await pilot.press(*"one two", "enter")
        await wait_until(pilot, lambda: "2 words" in " ".join(map(str, screen.query_one(OutputLog).entries)))
        await pilot.press("escape")  # leaves the field, not the screen
        assert not isinstance(screen.focused, Input) and app.screen is screen


@run_async
async def test_the_keys_list_names_every_key_of_the_screen(tmp_path: Path) -> None:
    app = lab_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lab(app, pilot, COUNTING.id)
        listed = {line.description for line in screen_keys(screen)}
        every = {binding.description for binding in LabScreen.BINDINGS}  # type: ignore[union-attr]
        assert every <= listed, every - listed


# -- the output pane -------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
@run_async
async def test_no_wrapped_line_in_the_output_pane_loses_characters(tmp_path: Path, size) -> None:
    app = lab_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        screen, _ = await replayed(app, pilot)
        log = screen.query_one(OutputLog)
        seen: list[str] = []
        height = log.scrollable_content_region.height
        for top in range(0, max(len(log.lines), 1), height):
            log.scroll_to(y=top, animate=False, immediate=True)
            await pilot.pause()
            seen += pane_rows(app, log)[: max(len(log.lines) - top, 0)]
        on_screen = words(" ".join(seen))
        for text in TEXTS:
            assert words(text) in on_screen, (text, seen)


@run_async
async def test_output_lines_wrap_again_when_the_pane_gets_narrower(tmp_path: Path) -> None:
    app = lab_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        screen, _ = await replayed(app, pilot)
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        log = screen.query_one(OutputLog)
        width = log.scrollable_content_region.width
        assert max(strip.text.rstrip().__len__() for strip in log.lines) <= width


# -- charts of seeds ----------------------------------------------------------------------------------


@run_async
async def test_a_seed_comparison_is_one_line_per_arm_and_s_shows_every_seed(tmp_path: Path) -> None:
    app = lab_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        screen, _ = await replayed(app, pilot)
        chart = screen.query_one(LossChart)
        drawn = str(chart.render())
        assert all(f"{arm} (mean of {SEEDS} seeds)" in drawn for arm in ARMS), drawn
        assert "seed 3" not in drawn
        await pilot.press("s")
        assert chart.per_seed and "lr 1e-3 · seed 0" in str(chart.render())
        await pilot.press("s")
        assert not chart.per_seed


# -- snapshots ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_a_finished_seed_comparison(tmp_path: Path, size, snap_compare) -> None:
    """A finished 3-arm × 5-seed run: one line per arm with its band, the texts whole, the predictor box."""

    async def replay(pilot) -> None:
        screen, _ = await replayed(pilot.app, pilot, predictor=lambda text: text)
        screen.query_one(LossChart)._redraw_if_dirty()  # now, not at the chart's next tick
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    assert snap_compare(lab_app(tmp_path), run_before=replay, terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
@run_async
async def test_every_footer_key_is_whole_on_screen(tmp_path: Path, size: tuple[int, int]) -> None:
    from textual.widgets import Footer

    app = lab_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        screen = await open_lab(app, pilot, COUNTING.id)
        await pilot.press("tab")  # a field's footer too
        await pilot.pause()
        keys = list(screen.query_one(Footer).query("FooterKey"))
        assert len(keys) >= 8
        assert all(0 <= key.region.x and key.region.right <= size[0] for key in keys), [
            (str(key.render()), key.region) for key in keys
        ]
