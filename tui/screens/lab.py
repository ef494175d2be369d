"""The lab screen: set a lab's parameters, predict the outcome, run it and watch it train live.

The lab runs in its own process (`labs.runner.LabRun`); this screen reads the run's events ten times a
second, so a fast training loop can never starve the keyboard, and the chart redraws at most five
times a second. Runs belong to the app (`tui.lab_runs.LabRuns`), not the screen: going back to the
card can leave a run going, reopening the lab replays it from the start, and quitting stops it.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import (
    Button,
    DataTable,
    Footer,
    Input,
    Label,
    ProgressBar,
    RadioButton,
    RadioSet,
    RichLog,
    Select,
    Static,
)

from engine.utils import format_number
from labs.events import (
    ArtifactSaved,
    BatchLoss,
    Cancelled,
    DataUsed,
    EpochRow,
    Failed,
    Finished,
    LabEvent,
    LrFinderPoint,
    LrSuggestion,
    Progress,
    StageStarted,
    TableOutput,
    TextOutput,
)
from labs.registry import DEFAULT_PRESET, PRESET_NAMES, LabError, LabInfo, get_lab
from labs.verdict_text import data_used_line
from tui.services import services_of
from tui.widgets.loss_chart import LossChart, Marker, kinds_of
from tui.widgets.run_text import epoch_stage, run_report
from tui.widgets.safe_text import neutralize_controls, one_line

if TYPE_CHECKING:
    from cards.paths import Home
    from labs.launch import Launch
    from labs.runner import LabRun

DRAIN_INTERVAL = 0.1  # seconds between reads of the run's events
MAX_EVENTS_PER_TICK = 2000
DEVICES = ("auto", "cpu", "cuda", "mps")


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
    AUTO_FOCUS = None  # keys belong to the screen (r, c, o) until the student clicks or tabs into a field
    BINDINGS = [
        Binding("r", "run", "Run", id="lab.run", tooltip="Run the lab with these parameters"),
        Binding("c", "cancel", "Cancel run", id="lab.cancel", tooltip="Stop the run at the next batch"),
        Binding(
            "o",
            "toggle_overlay",
            "Previous run",
            id="lab.overlay",
            tooltip="Overlay the previous run's curve",
        ),
        Binding("escape", "leave", "Back", id="lab.leave", tooltip="Back (asks first while the lab runs)"),
    ]

    def __init__(self, lab_id: str, home: Home, card_id: str | None = None) -> None:
        super().__init__()
        self.info: LabInfo = get_lab(lab_id)
        self.home = home
        self.card_id = card_id
        self.lab_run: LabRun | None = None
        self._cursor = 0
        self._stage_index = -1
        self._stages_done: set[str] = set()
        self._epoch_columns: list[str] = []
        self._overlay_shown = True
        self._outcome_reported = False

    # -- layout -----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        info = self.info
        subtitle = f"  ·  {info.id}" + (f"  ·  card {self.card_id}" if self.card_id else "")
        yield Static(Text.assemble((info.title, "bold"), (subtitle, "dim")), id="lab-title")
        with Horizontal(id="lab-body"):
            with VerticalScroll(id="lab-side"):
                # The question and Run come first, one Tab to predict and another to run; what the lab
                # does follows, then its parameters.
                if info.question:
                    yield Static(Text(info.question.prompt, style="bold"), id="question-prompt")
                    with RadioSet(id="question"):
                        for choice in info.question.choices:
                            yield RadioButton(Text(choice), tooltip=choice)  # the sidebar may cut it
                with Horizontal(id="lab-buttons"):
                    yield Button("r Run", id="run-button", variant="primary")
                    yield Button("c Cancel", id="cancel-button", variant="error")
                yield Static(Text(info.summary), id="lab-summary")
                yield Static(id="lab-steps")
                yield from self._compose_params()
            with Vertical(id="lab-main"):
                yield Static(
                    Text("Answer the question if you like, set the parameters, then press r."),
                    id="lab-status",
                )
                yield LossChart(id="chart")
                with Horizontal(id="progress-row"):
                    yield ProgressBar(total=None, show_eta=False, id="progress")
                    yield Static("", id="eta")
                yield DataTable(id="epochs", cursor_type="none", zebra_stripes=True)
                yield RichLog(id="outputs", wrap=True, markup=False, highlight=False)
                yield Input(
                    placeholder="type something for the trained model to predict, then enter", id="predict"
                )
        yield Footer()

    def _compose_params(self) -> ComposeResult:
        """Preset, device and every parameter, each with its whole help text (the labels wrap)."""
        yield Static(Text("parameters", style="bold"), id="params-heading")
        yield Label("preset")
        yield Select(
            [(name, name) for name in PRESET_NAMES], value=DEFAULT_PRESET, allow_blank=False, id="preset"
        )
        yield Label("device")
        yield Select([(name, name) for name in DEVICES], value="auto", allow_blank=False, id="device")
        yield from self._compose_processes()
        for param in self.info.params:
            yield Label(
                Text(f"{param.name}  ", style="bold") + Text(param.help, style="dim"), classes="param-help"
            )
            yield Input(id=f"param-{param.name}", classes="param", tooltip=param.help)

    def _compose_processes(self) -> ComposeResult:
        """On a machine with several GPUs: how many processes (one per GPU, torchrun) train the lab."""
        from labs.launch import gpu_count

        gpus = gpu_count()
        if gpus > 1:
            yield Label("processes (one per GPU)")
            choices = [(str(n), n) for n in range(1, gpus + 1)]
            yield Select(choices, value=1, allow_blank=False, id="nproc", tooltip="torchrun --nproc-per-node")

    def _launch(self) -> Launch:
        from labs.launch import Launch

        chosen = self.query("#nproc")
        return Launch(nproc=int(chosen.first(Select).value)) if chosen else Launch()

    def on_mount(self) -> None:
        self._fill_params(DEFAULT_PRESET)
        self.query_one("#predict", Input).display = False
        self._render_steps()
        self._load_overlay()
        existing = services_of(self).lab_runs.get(self.info.id)
        if existing is not None:
            self._follow_run(existing)
        self._update_buttons()
        self.set_interval(DRAIN_INTERVAL, self._drain)

    # -- parameters -------------------------------------------------------------------------------

    def _fill_params(self, preset: str) -> None:
        values = self.info.resolve(preset)
        for param in self.info.params:
            self.query_one(f"#param-{param.name}", Input).value = str(values[param.name])

    @on(Select.Changed, "#preset")
    def _preset_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self._fill_params(event.value)

    def _chosen_params(self) -> tuple[str, dict[str, object]]:
        preset = str(self.query_one("#preset", Select).value)
        overrides = {p.name: self.query_one(f"#param-{p.name}", Input).value for p in self.info.params}
        return preset, overrides

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
        preset, overrides = self._chosen_params()
        try:
            run = LabRun(
                self.info,
                preset=preset,
                overrides=overrides,
                device=str(self.query_one("#device", Select).value),
                runs_dir=self.home.runs_dir,
                home=self.home,
                launch=self._launch(),
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

    def action_cancel(self) -> None:
        if self.lab_run is not None and not self.lab_run.done and not self.lab_run.cancel_requested:
            self.lab_run.cancel()
            self._set_status(Text("cancelling at the next batch…", style="yellow"))

    def action_leave(self) -> None:
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

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        running = self.lab_run is not None and not self.lab_run.done
        if action == "cancel":
            return running
        if action == "run":
            return not running
        return True

    @on(Button.Pressed, "#run-button")
    def _run_pressed(self) -> None:
        self.action_run()

    @on(Button.Pressed, "#cancel-button")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def _follow_run(self, run: LabRun) -> None:
        self.lab_run = run
        self._cursor = 0
        self._drain()

    def _reset_view(self) -> None:
        self._stage_index, self._stages_done, self._epoch_columns = -1, set(), []
        self._outcome_reported = False
        self.query_one(LossChart).clear()
        table = self.query_one("#epochs", DataTable)
        table.clear(columns=True)
        self.query_one("#outputs", RichLog).clear()
        self.query_one("#progress", ProgressBar).update(total=None, progress=0)
        self.query_one("#eta", Static).update("")
        self.query_one("#predict", Input).display = False
        self._render_steps()

    def _update_buttons(self) -> None:
        running = self.lab_run is not None and not self.lab_run.done
        self.query_one("#run-button", Button).disabled = running
        self.query_one("#cancel-button", Button).disabled = not running
        self.refresh_bindings()

    # -- events -----------------------------------------------------------------------------------

    def _drain(self) -> None:
        if self.lab_run is None:
            return
        # At most MAX_EVENTS_PER_TICK at a time: a flood of events catches up over a few ticks instead
        # of freezing the keyboard for one long one.
        events = self.lab_run.events_since(self._cursor)[:MAX_EVENTS_PER_TICK]
        if not events:
            return
        self._cursor += len(events)
        chart = self.query_one(LossChart)
        for event in events:
            self._show(event, chart)
        chart.changed()

    def _show(self, event: LabEvent, chart: LossChart) -> None:
        if isinstance(event, BatchLoss):
            chart.add_loss(event.series, event.step, event.loss)
        elif isinstance(event, LrFinderPoint):
            chart.lr_finder.append((event.lr, event.loss))
        elif isinstance(event, LrSuggestion):
            chart.markers.append(Marker(event.lr, event.name, _MARKER_STYLES.get(event.name, "magenta")))
        elif isinstance(event, EpochRow):
            chart.add_epoch(event.series, event.valid_loss, event.metrics)
            self._add_epoch_row(event)
        elif isinstance(event, Progress):
            self.query_one("#progress", ProgressBar).update(total=max(event.total, 1), progress=event.done)
            eta = "" if event.eta is None else f" ETA {_duration(event.eta)}"
            self.query_one("#eta", Static).update(f"{event.done}/{event.total}{eta}")
        elif isinstance(event, StageStarted):
            if self.info.steps and 0 <= self._stage_index < len(self.info.steps):
                self._stages_done.add(self.info.steps[self._stage_index])
            self._stage_index = event.index
            self._render_steps(current=event.name)
            self._set_status(Text(f"▶ {event.name}", style="bold"))
        elif isinstance(event, TextOutput):
            self._write_text(event)
        elif isinstance(event, TableOutput):
            self._write_table(event)
        elif isinstance(event, ArtifactSaved):
            self._log(Text(f"saved {event.name}: {event.path}", style="dim"))
        elif isinstance(event, DataUsed):
            style = "bold green" if event.source == "real" else "bold yellow"
            self._log(Text(neutralize_controls(data_used_line(asdict(event))), style=style))
        elif isinstance(event, Finished | Failed | Cancelled):
            self._show_end(event)

    def _add_epoch_row(self, row: EpochRow) -> None:
        table = self.query_one("#epochs", DataTable)
        columns = ["stage", "epoch", "train_loss", "valid_loss", *row.metrics, "time"]
        if not self._epoch_columns:
            self._epoch_columns = columns
            table.add_columns(*(Text(one_line(name)) for name in columns))
        values = {
            "stage": epoch_stage(row),
            "epoch": str(row.epoch),
            "train_loss": format_number(row.train_loss),
            "valid_loss": format_number(row.valid_loss),
            "time": f"{row.seconds:.1f}s",
            **{name: format_number(value) for name, value in row.metrics.items()},
        }
        # Text, not str: the table parses str cells as markup, and stage and curve names are the lab's.
        table.add_row(*(Text(one_line(values.get(name, ""))) for name in self._epoch_columns))
        table.scroll_end(animate=False)

    def _write_text(self, event: TextOutput) -> None:
        style = {"explanation": "italic", "prediction": "bold green", "generated": "magenta"}.get(
            event.kind, ""
        )
        if event.title:
            self._log(Text(neutralize_controls(event.title), style="bold"))
        self._log(Text(neutralize_controls(event.text), style=style))

    def _write_table(self, event: TableOutput) -> None:
        from rich.table import Table

        # Text, never str: Rich would read a column named "[bold]" as markup. Controls shown, not sent.
        table = Table(
            title=Text(neutralize_controls(event.title)), title_justify="left", box=None, header_style="bold"
        )
        for column in event.columns:
            table.add_column(Text(neutralize_controls(column)))
        for row in event.rows:
            table.add_row(*(Text(neutralize_controls(cell)) for cell in row))
        self._log(table)

    def _log(self, renderable: object) -> None:
        self.query_one("#outputs", RichLog).write(renderable)

    def _show_end(self, event: Finished | Failed | Cancelled) -> None:
        if isinstance(event, Finished):
            bar = self.query_one("#progress", ProgressBar)
            bar.update(
                total=bar.total or 1, progress=bar.total or 1
            )  # a planned step may not have been needed
            self.query_one("#eta", Static).update("done")
            if 0 <= self._stage_index < len(self.info.steps):
                self._stages_done.add(self.info.steps[self._stage_index])
            self._render_steps()
            self._set_status(Text(f"finished in {event.seconds:.1f} s", style="bold green"))
            self._report_outcome(event.result)
            if self.lab_run is not None and self.lab_run.predictor is not None:
                self.query_one("#predict", Input).display = True
        elif isinstance(event, Failed):
            label = {"diverged": "diverged", "out_of_memory": "out of memory"}.get(event.kind, "failed")
            self._set_status(Text(f"{label}: {event.error}", style="bold red"))
            self._log(Text(event.error, style="bold red"))
            self._log(Text(_last_lines(event.traceback, 8), style="dim"))
        else:
            self._set_status(Text(f"cancelled during {event.stage or 'start-up'}", style="bold yellow"))
        if self.lab_run is not None and self.lab_run.save_error is not None:
            self._log(Text(f"this run was not saved: {self.lab_run.save_error}", style="bold red"))
        self.call_after_refresh(self._update_buttons)

    def _report_outcome(self, result: dict[str, object]) -> None:
        """The question's answer on this run against the student's guess, then the lab's verdict."""
        if self._outcome_reported:
            return
        prompt = self.info.question.prompt if self.info.question else None
        report = run_report(prompt, result, self._prediction())
        if report is not None:
            self._outcome_reported = True
            self._log(report)

    # -- predictions after training ---------------------------------------------------------------

    @on(Input.Submitted, "#predict")
    def _predict_submitted(self, event: Input.Submitted) -> None:
        if self.lab_run is not None and self.lab_run.predictor is not None and event.value.strip():
            self._predict(event.value)

    @work(thread=True, exclusive=True, group="predict")
    def _predict(self, text: str) -> None:
        assert self.lab_run is not None and self.lab_run.predictor is not None
        try:
            answer = self.lab_run.predictor(text)
            line = Text.assemble(("› ", "dim"), (text, ""), ("  →  ", "dim"), (answer, "bold green"))
        except Exception as error:  # a bad input must not end the app
            line = Text(f"cannot predict {text!r}: {error}", style="red")
        self.app.call_from_thread(self._log, line)

    # -- small views ------------------------------------------------------------------------------

    def _set_status(self, text: Text) -> None:
        self.query_one("#lab-status", Static).update(text)

    def _render_steps(self, current: str | None = None) -> None:
        text = Text()
        for step in self.info.steps:
            if step == current:
                text.append(f"▶ {step}\n", style="bold reverse")
            elif step in self._stages_done:
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


_MARKER_STYLES = {"valley": "green", "steep": "magenta", "minimum": "red"}


def _duration(seconds: float) -> str:
    seconds = max(int(round(seconds)), 0)
    return f"{seconds // 60}:{seconds % 60:02d}"


def _last_lines(text: str, count: int) -> str:
    return "\n".join(text.rstrip().splitlines()[-count:])
