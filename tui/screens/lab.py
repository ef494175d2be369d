"""The lab screen: set a lab's parameters, predict the outcome, run it and watch it train live.

The lab runs in its own process (`labs.runner.LabRun`), which folds each event into the run's state
(`labs.run_state.RunState`); the run wakes this screen with a posted message when it has changed (no
polling), and the screen draws the state at most every DRAIN_GAP seconds: the outputs it has not shown,
then the chart, progress and steps as they are now. A flood of training steps costs the keyboard one
draw, not one per step; the chart redraws at most five times a second.

Keys: letters act on the screen only while no field has focus (a focused field takes them as text), and
no letter starts a run: ctrl+r runs, from a field too, leaving the field as typed. The parameter form is
`tui.widgets.lab_params.LabParams`. Runs belong to the app (`tui.lab_runs.LabRuns`), not the screen:
going back to the card can leave a run going, reopening the lab replays it from the start, and quitting
stops it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import (
    Button,
    DataTable,
    Footer,
    Input,
    Label,
    ProgressBar,
    RadioSet,
    Select,
    Static,
)

from labs.events import Cancelled, EpochRow, Failed, Finished, LabEvent, StageStarted
from labs.registry import DEFAULT_PRESET, LabError, LabInfo, get_lab
from tui.services import services_of
from tui.widgets.choice_button import ChoiceButton
from tui.widgets.lab_data import LabDataLine
from tui.widgets.lab_params import LabParams
from tui.widgets.loss_chart import LossChart, Marker, kinds_of
from tui.widgets.output_log import OutputLog
from tui.widgets.run_text import epoch_cells, epoch_columns, output_renderables, report_parts
from tui.widgets.safe_text import one_line

if TYPE_CHECKING:
    from cards.paths import Home
    from labs.runner import LabRun

DRAIN_GAP = 0.05  # seconds at least between two reads of the run's events
SHORT_SCREEN = 30  # rows: below this the epochs table shows fewer rows (lab.tcss `-short`)
NARROW_SCREEN = 100  # columns: below this the sidebar is narrower, the chart wider (lab.tcss `-narrow`)


class RunAdvanced(Message):
    """The followed run has new events, or has ended (posted from the thread reading the lab)."""


class LeaveRunningLab(ModalScreen[str]):
    """Asked when leaving a lab that is still training: keep it running, stop it, or stay."""

    DEFAULT_CSS = """
    LeaveRunningLab { align: center middle; }
    LeaveRunningLab > Vertical { width: 60; height: auto; border: round $warning; background: $surface; padding: 1 2; }
    LeaveRunningLab Label { width: 100%; }
    LeaveRunningLab Horizontal { height: auto; margin-top: 1; }
    LeaveRunningLab Button { margin-right: 1; }
    """
    BINDINGS = [
        Binding("k", "choose('keep')", "Keep running", id="lab.leave.keep"),
        Binding("s", "choose('stop')", "Stop", id="lab.leave.stop"),
        Binding("escape", "choose('stay')", "Stay", id="lab.leave.stay"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("The lab is still running. Leave it running in the background, or stop it?")
            with Horizontal():
                yield Button("k Keep running", id="keep", variant="primary")
                yield Button("s Stop it", id="stop", variant="error")
                yield Button("esc Stay", id="stay")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "stay")

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)


class LabScreen(Screen[None]):
    CSS_PATH = "lab.tcss"
    AUTO_FOCUS = None  # keys belong to the screen (c, o, p) until the student clicks or tabs into a field
    BINDINGS = [
        # ctrl+r, not a letter: a field takes letters as text, and typing must never start a run
        Binding(
            "ctrl+r",
            "run",
            "Run",
            id="lab.run",
            tooltip="Run the lab with these parameters (from a field too: it keeps what you typed)",
        ),
        Binding("c", "cancel", "Cancel", id="lab.cancel", tooltip="Stop the run at the next batch"),
        Binding(
            "o",
            "toggle_overlay",
            "Previous",
            id="lab.overlay",
            tooltip="Overlay the previous run's curve",
        ),
        Binding(
            "s",
            "toggle_seeds",
            "Seeds",
            id="lab.per_seed",
            tooltip="Every seed's curve, or each arm's mean with a band for the spread of its seeds",
        ),
        Binding(
            "p",
            "focus_predict",
            "Predict",
            id="lab.predict",
            tooltip="Type something for the trained model to predict (after a run that can predict)",
        ),
        Binding(
            "escape",
            "leave",
            "Back",
            id="lab.leave",
            tooltip="Back (asks first while the lab runs); in a field, leave the field first",
        ),
        Binding(
            "f",
            "fetch_data",
            "Fetch",
            id="lab.fetch_data",
            tooltip="Download the lab's real dataset into the cache, so that the next run trains on it",
        ),
    ]

    def __init__(self, lab_id: str, home: Home, card_id: str | None = None) -> None:
        super().__init__()
        self.info: LabInfo = get_lab(lab_id)
        self.home = home
        self.card_id = card_id
        self.lab_run: LabRun | None = None
        self._cursor = 0  # the run's outputs drawn so far
        self._drawn_changes = -1  # the run state's change count when last drawn
        self._epoch_columns: list[str] = []
        self._overlay_shown = True
        self._report_line: int | None = None  # where the run's answer and verdict start in the outputs
        self._wake_posted = False  # a RunAdvanced is on its way: one at a time, however many events
        self._last_drain = 0.0

    # -- layout -----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        info = self.info
        subtitle = f"  ·  {info.id}" + (f"  ·  card {self.card_id}" if self.card_id else "")
        yield Static(Text.assemble((info.title, "bold"), (subtitle, "dim")), id="lab-title")
        yield LabDataLine(info, self.home, DEFAULT_PRESET, id="lab-data")  # which data the next run uses
        with Horizontal(id="lab-body"):
            with VerticalScroll(id="lab-side"):
                # The question and Run come first, one Tab to predict and another to run; what the lab
                # does follows, then its parameters.
                if info.question:
                    yield Static(Text(info.question.prompt, style="bold"), id="question-prompt")
                    with RadioSet(id="question"):
                        for choice in info.question.choices:
                            yield ChoiceButton(Text(choice))
                with Horizontal(id="lab-buttons"):
                    yield Button("^r Run", id="run-button", variant="primary")
                    yield Button("c Cancel", id="cancel-button", variant="error")
                yield Static(Text(info.summary), id="lab-summary")
                yield Static(id="lab-steps")
                yield LabParams(info, id="lab-params")
            with Vertical(id="lab-main"):
                yield Static(
                    Text("Answer the question if you like, set the parameters, then press ctrl+r."),
                    id="lab-status",
                )
                yield LossChart(id="chart")
                with Horizontal(id="progress-row"):
                    yield ProgressBar(total=None, show_eta=False, id="progress")
                    yield Static("", id="eta")
                yield DataTable(id="epochs", cursor_type="none", zebra_stripes=True)
                yield OutputLog(id="outputs")
                yield Input(
                    placeholder="p: type something for the trained model to predict, then enter", id="predict"
                )
        # Every key fits 80 columns; the palette (ctrl+p) is listed by `?`, not here.
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#predict", Input).display = False
        self._render_steps()
        self._load_overlay()
        existing = services_of(self).lab_runs.get(self.info.id)
        if existing is not None:
            self._follow_run(existing)
        self._update_buttons()

    def on_unmount(self) -> None:
        if self.lab_run is not None:  # the run outlives the screen; its wake-ups must not
            self.lab_run.unlisten(self._wake)

    def on_resize(self) -> None:
        self.set_class(self.size.height < SHORT_SCREEN, "-short")
        self.set_class(self.size.width < NARROW_SCREEN, "-narrow")

    # -- the question -----------------------------------------------------------------------------

    def _prediction(self) -> str | None:
        if not self.info.question:
            return None
        pressed = self.query_one("#question", RadioSet).pressed_index
        return self.info.question.choices[pressed] if pressed >= 0 else None

    # -- running ----------------------------------------------------------------------------------

    def action_run(self) -> None:
        from labs.runner import LabRun

        if self.lab_run is not None and not self.lab_run.done:
            self.notify("the lab is already running; c cancels it", severity="warning")
            return
        params = self.query_one(LabParams)
        refused = params.refused()
        if refused is not None:  # said under the field already; nothing runs until it holds a value
            field, why = refused
            self._set_status(Text(one_line(why), style="bold red"))
            field.focus()
            return
        info = self._runnable_info()
        if info is None:
            return
        preset = params.preset
        try:
            run = LabRun(
                info,
                preset=preset,
                overrides=params.overrides(),
                device=params.device,
                runs_dir=self.home.runs_dir,
                home=self.home,
                launch=params.launch(),
            )
        except LabError as error:
            self._set_status(Text(str(error), style="bold red"))
            return
        self._reset_view()
        self._load_overlay()
        services_of(self).lab_runs.replace(self.info.id, run)
        self._follow_run(run)
        run.start()
        self._set_status(Text(f"running ({preset})…", style="bold"))
        self._update_buttons()

    def _runnable_info(self) -> LabInfo | None:
        """What ctrl+r runs: a pack's lab from the snapshot of the code trusted, checked at every press; when
        the pack's files changed since, the trust dialog asks again (trusting runs it) and nothing runs."""
        from pathlib import Path

        from labs.packlabs import accept, check_trust
        from tui.screens.trust import TrustLab

        check = check_trust(self.home, self.info)
        if check.info is not None:
            return check.info
        content = check.content
        if content is None:
            self._set_status(Text("this lab's pack has no labs any more", style="bold red"))
            return None

        def answered(trust: bool | None) -> None:
            if trust:
                accept(self.home, content, self.info)
                self.action_run()

        dialog = TrustLab(content.pack_id, self.info.folder or Path(), content.digests, content.skipped)
        self.app.push_screen(dialog, answered)
        return None

    def action_cancel(self) -> None:
        if self.lab_run is not None and not self.lab_run.done and not self.lab_run.cancel_requested:
            self.lab_run.cancel()
            self._set_status(Text("cancelling at the next batch…", style="yellow"))

    def action_leave(self) -> None:
        if isinstance(self.focused, Input):  # escape leaves the field first, then the screen
            self.set_focus(None)
            return
        if self.lab_run is None or self.lab_run.done:
            self.dismiss()
            return

        def chosen(choice: str | None) -> None:
            if choice == "stop" and self.lab_run is not None:
                self.lab_run.cancel()
            if choice in ("keep", "stop"):
                self.dismiss()

        self.app.push_screen(LeaveRunningLab(), chosen)

    def action_toggle_overlay(self) -> None:
        self._overlay_shown = not self._overlay_shown
        self._load_overlay()

    def action_toggle_seeds(self) -> None:
        chart = self.query_one(LossChart)
        chart.per_seed = not chart.per_seed
        chart.changed()
        self.notify("every seed's curve" if chart.per_seed else "each arm's mean, with its seeds' spread")

    def action_focus_predict(self) -> None:
        box = self.query_one("#predict", Input)
        if box.display:
            box.focus()

    # -- the real dataset ---------------------------------------------------------------------------

    def action_fetch_data(self) -> None:
        self.query_one(LabDataLine).fetch()

    @on(Select.Changed, "#preset")
    def _preset_changed_data(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self.query_one(LabDataLine).show_for(event.value)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "fetch_data":  # shown only while a real dataset is missing and not being fetched
            lines = self.query(LabDataLine)
            return (bool(lines) and lines.first().can_fetch) or None
        # None, not False: a key that cannot act now is shown greyed, so `?` lists every key of the screen
        running = self.lab_run is not None and not self.lab_run.done
        if action == "cancel":
            return running or None
        if action == "run":
            return (not running) or None
        if action == "focus_predict":
            return self.query_one("#predict", Input).display or None
        if action == "toggle_seeds":
            return self.query_one(LossChart).has_seeds or None
        return True

    @on(Button.Pressed, "#run-button")
    def _run_pressed(self) -> None:
        self.action_run()

    @on(Button.Pressed, "#cancel-button")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def _follow_run(self, run: LabRun) -> None:
        if self.lab_run is not None:
            self.lab_run.unlisten(self._wake)
        self.lab_run = run
        self._cursor, self._drawn_changes = 0, -1
        run.listen(self._wake)
        self._drain()

    def _wake(self) -> None:
        """From the run's reader thread: post one RunAdvanced unless one is already on its way."""
        if not self._wake_posted:
            self._wake_posted = True
            self.post_message(RunAdvanced())

    @on(RunAdvanced)
    def _run_advanced(self) -> None:
        from time import monotonic

        wait = self._last_drain + DRAIN_GAP - monotonic()
        if wait > 0:  # read again a little later: a flood of events is drawn once, not once per event
            self.set_timer(wait, self._run_advanced)
            return
        self._wake_posted = False  # events from now on post again
        self._last_drain = monotonic()
        self._drain()
        running = self.lab_run is not None and not self.lab_run.done
        if self.query_one("#run-button", Button).disabled != running:
            self._update_buttons()  # the run ended after its last event was read

    def _reset_view(self) -> None:
        self._epoch_columns = []
        self._report_line = None
        self.query_one(LossChart).clear()
        table = self.query_one("#epochs", DataTable)
        table.clear(columns=True)
        self.query_one("#outputs", OutputLog).clear()
        self.query_one("#progress", ProgressBar).update(total=None, progress=0)
        self.query_one("#eta", Static).update("")
        self.query_one("#predict", Input).display = False
        self._render_steps()

    def _update_buttons(self) -> None:
        running = self.lab_run is not None and not self.lab_run.done
        self.query_one("#run-button", Button).disabled = running
        self.query_one("#cancel-button", Button).disabled = not running
        self.refresh_bindings()

    # -- the run's state, drawn -------------------------------------------------------------------

    def _drain(self) -> None:
        """Draw what the run's state holds that this screen has not drawn yet (the run folded the events
        in, `labs.run_state`): new outputs in order, then the chart, progress and steps as they are now."""
        if self.lab_run is None:
            return
        with self.lab_run.reading() as state:
            if state.changes == self._drawn_changes:
                return
            self._drawn_changes = state.changes
            outputs = state.outputs[self._cursor :]
            self._cursor = len(state.outputs)
            curves, valid_curves, lr_finder = state.chart_data()
            suggestions, kinds = state.lr_suggestions(), kinds_of(state.epochs)
            progress, eta = state.progress_done(), state.progress.eta if state.progress else None
            ended, stages_done = state.ended, set(state.stages_done)
            current = None if state.status == "finished" or state.stage is None else state.stage.name
        for event in outputs:
            self._show(event)
        markers = [Marker(lr, name, _MARKER_STYLES.get(name, "magenta")) for name, lr in suggestions.items()]
        self.query_one(LossChart).show(curves, valid_curves, lr_finder, markers, kinds)
        self._show_progress(progress, None if ended else eta)
        self._render_steps(current, stages_done)

    def _show(self, event: LabEvent) -> None:
        """One of the run's kept events, in the order the lab emitted them."""
        if isinstance(event, EpochRow):
            self._add_epoch_row(event)
        elif isinstance(event, StageStarted):
            self._set_status(Text(f"▶ {event.name}", style="bold"))
        elif isinstance(event, Finished | Failed | Cancelled):
            self._show_end(event)
        else:
            for renderable in output_renderables(event):
                self._log(renderable)

    def _show_progress(self, progress: tuple[int, int] | None, eta: float | None) -> None:
        if progress is None:
            return
        done, total = progress
        self.query_one("#progress", ProgressBar).update(total=total, progress=done)
        left = (
            "done" if done == total else f"{done}/{total}" + ("" if eta is None else f" ETA {_duration(eta)}")
        )
        self.query_one("#eta", Static).update(left)

    def _add_epoch_row(self, row: EpochRow) -> None:
        table = self.query_one("#epochs", DataTable)
        if not self._epoch_columns:
            self._epoch_columns = ["stage", *epoch_columns(row)]
            table.add_columns(*(Text(one_line(name)) for name in self._epoch_columns))
        cells = epoch_cells(row)
        # Text, not str: the table parses str cells as markup, and stage and curve names are the lab's.
        table.add_row(*(Text(one_line(cells.get(name, ""))) for name in self._epoch_columns))
        table.scroll_end(animate=False)

    def _log(self, renderable: RenderableType) -> int:
        return self.query_one("#outputs", OutputLog).add(renderable)

    def _show_end(self, event: Finished | Failed | Cancelled) -> None:
        if self.lab_run is not None and self.is_current:  # seen here: home and study need not say it
            services_of(self).lab_runs.seen(self.lab_run)
        if isinstance(event, Finished):
            self._set_status(Text(f"finished in {event.seconds:.1f} s", style="bold green"))
            self._report_outcome(event.result)
            if self.lab_run is not None and self.lab_run.predictor is not None:
                self.query_one("#predict", Input).display = True
                self.refresh_bindings()
            elif self.lab_run is not None and getattr(self.lab_run, "released", False):
                from labs.runner import GONE

                self._log(Text(GONE, style="dim"))
        elif isinstance(event, Failed):
            label = {"diverged": "diverged", "out_of_memory": "out of memory"}.get(event.kind, "failed")
            self._set_status(Text(f"{label}: {event.error}", style="bold red"))
            self._log(Text(event.error, style="bold red"))
            self._log(Text(_last_lines(event.traceback, 8), style="dim"))
        else:
            self._set_status(Text(f"cancelled during {event.stage or 'start-up'}", style="bold yellow"))
        if self.lab_run is not None and self.lab_run.save_error is not None:
            self._log(Text(f"this run was not saved: {self.lab_run.save_error}", style="bold red"))
        elif self._report_line is not None:  # the answer and the verdict on top, not the reference's tail
            self.query_one("#outputs", OutputLog).show_from(self._report_line)
        self.call_after_refresh(self._update_buttons)

    def _report_outcome(self, result: dict[str, object]) -> None:
        """The question's answer on this run against the student's guess, then the lab's verdict."""
        if self._report_line is not None:
            return
        prompt = self.info.question.prompt if self.info.question else None
        for part in report_parts(prompt, result, self._prediction()):
            self._report_line = self._log(part)  # the last part's: the answer, then the verdict

    # -- predictions after training ---------------------------------------------------------------

    @on(Input.Submitted, "#predict")
    def _predict_submitted(self, event: Input.Submitted) -> None:
        if self.lab_run is None or not event.value.strip():
            return
        if self.lab_run.predictor is None:  # released since: another lab finished (one keeps its model)
            from labs.runner import GONE

            self._log(Text(GONE, style="yellow"))
            event.input.display = False
            self.refresh_bindings()
            return
        self._predict(event.value)

    @work(thread=True, exclusive=True, group="predict")
    def _predict(self, text: str) -> None:
        from labs.runner import GONE

        predictor = self.lab_run.predictor if self.lab_run is not None else None
        try:
            if predictor is None:
                raise LabError(GONE)
            answer = predictor(text)
            line = Text.assemble(("› ", "dim"), (text, ""), ("  →  ", "dim"), (answer, "bold green"))
        except Exception as error:  # a bad input must not end the app
            line = Text(f"cannot predict {text!r}: {error}", style="red")
        self.app.call_from_thread(self._log, line)

    # -- small views ------------------------------------------------------------------------------

    def _set_status(self, text: Text) -> None:
        self.query_one("#lab-status", Static).update(text)

    def _render_steps(self, current: str | None = None, done: Collection[int] = ()) -> None:
        text = Text()
        for index, step in enumerate(self.info.steps):
            if step == current:
                text.append(f"▶ {step}\n", style="bold reverse")
            elif index in done:
                text.append(f"✓ {step}\n", style="green")
            else:
                text.append(f"· {step}\n", style="dim")
        self.query_one("#lab-steps", Static).update(text)

    def _load_overlay(self) -> None:
        from labs.runs import previous_run

        chart = self.query_one(LossChart)
        exclude = self.lab_run.run_id if self.lab_run else None
        previous = (
            previous_run(self.home.runs_dir, self.info.id, exclude=exclude) if self._overlay_shown else None
        )
        if previous is None:
            chart.set_overlay({}, [], "previous run")
        else:
            name = f"previous run ({previous.preset})"
            chart.set_overlay(previous.curves, previous.lr_finder, name, kinds_of(previous.epochs))


_MARKER_STYLES = {
    "valley": "green",
    "steep": "magenta",
    "minimum": "red",
    "minimum / 10": "yellow",  # the finder's `minimum` suggestion: the lowest loss's rate / 10
    "lowest loss": "red",
}


def _duration(seconds: float) -> str:
    seconds = max(int(round(seconds)), 0)
    return f"{seconds // 60}:{seconds % 60:02d}"


def _last_lines(text: str, count: int) -> str:
    return "\n".join(text.rstrip().splitlines()[-count:])
