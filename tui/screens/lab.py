"""The lab screen: set a lab's parameters, predict the outcome, run it and watch it train live.

The lab runs in its own process (`labs.runner.LabRun`); the run wakes this screen with a posted message
when it has new events (no polling), and the screen reads them at most every DRAIN_GAP seconds, a
bounded number at a time, so a fast training loop can never starve the keyboard; the chart redraws at
most five times a second.

Keys: letters act on the screen only while no field has focus (a focused field takes them as text), and
no letter starts a run: ctrl+r runs, from a field too, leaving the field as typed. A field refuses what
its parameter cannot hold as it is typed (the lab's `Param.parse`), not when the run starts. Runs belong to the app (`tui.lab_runs.LabRuns`), not the screen: going back to the
card can leave a run going, reopening the lab replays it from the start, and quitting stops it.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.validation import ValidationResult, Validator
from textual.widgets import (
    Button,
    DataTable,
    Footer,
    Input,
    Label,
    ProgressBar,
    RadioButton,
    RadioSet,
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
from labs.info import Param
from labs.registry import DEFAULT_PRESET, PRESET_NAMES, LabError, LabInfo, get_lab
from labs.verdict_text import data_used_line
from tui.services import services_of
from tui.widgets.lab_data import LabDataLine
from tui.widgets.loss_chart import LossChart, Marker, kinds_of
from tui.widgets.output_log import OutputLog
from tui.widgets.run_text import epoch_stage, run_report
from tui.widgets.safe_text import neutralize_controls, one_line

if TYPE_CHECKING:
    from cards.paths import Home
    from labs.launch import Launch
    from labs.runner import LabRun

DRAIN_GAP = 0.05  # seconds at least between two reads of the run's events
MAX_EVENTS_PER_TICK = 2000
DEVICES = ("auto", "cpu", "cuda", "mps")
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
        Binding("c", "cancel", "Cancel run", id="lab.cancel", tooltip="Stop the run at the next batch"),
        Binding(
            "o",
            "toggle_overlay",
            "Previous run",
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
            "Fetch real data",
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
        self._cursor = 0
        self._stage_index = -1
        self._stages_done: set[str] = set()
        self._epoch_columns: list[str] = []
        self._overlay_shown = True
        self._outcome_reported = False
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
                            yield RadioButton(Text(choice), tooltip=choice)  # the sidebar may cut it
                with Horizontal(id="lab-buttons"):
                    yield Button("^r Run", id="run-button", variant="primary")
                    yield Button("c Cancel", id="cancel-button", variant="error")
                yield Static(Text(info.summary), id="lab-summary")
                yield Static(id="lab-steps")
                yield from self._compose_params()
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
            yield Input(
                id=f"param-{param.name}",
                classes="param",
                tooltip=param.help,
                validators=[ParamValidator(param)],
                restrict=_RESTRICT.get(param.type),
            )
            yield Static("", id=f"param-error-{param.name}", classes="param-error")

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

    def on_unmount(self) -> None:
        if self.lab_run is not None:  # the run outlives the screen; its wake-ups must not
            self.lab_run.unlisten(self._wake)

    def on_resize(self) -> None:
        self.set_class(self.size.height < SHORT_SCREEN, "-short")
        self.set_class(self.size.width < NARROW_SCREEN, "-narrow")

    # -- parameters -------------------------------------------------------------------------------

    def _fill_params(self, preset: str) -> None:
        values = self.info.resolve(preset)
        for param in self.info.params:
            self.query_one(f"#param-{param.name}", Input).value = str(values[param.name])

    @on(Select.Changed, "#preset")
    def _preset_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self._fill_params(event.value)

    @on(Input.Changed, ".param")
    def _param_changed(self, event: Input.Changed) -> None:
        """Say under the field why a value is refused, as it is typed."""
        name = (event.input.id or "").removeprefix("param-")
        result = event.validation_result
        message = "" if result is None or result.is_valid else "; ".join(result.failure_descriptions)
        said = self.query_one(f"#param-error-{name}", Static)
        said.update(Text(one_line(message), style="red"))
        said.set_class(bool(message), "-shown")

    def _refused_param(self) -> tuple[Input, str] | None:
        """The first field holding a value its parameter refuses, with why."""
        for param in self.info.params:
            field = self.query_one(f"#param-{param.name}", Input)
            result = field.validate(field.value)
            if result is not None and not result.is_valid:
                return field, "; ".join(result.failure_descriptions)
        return None

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
        refused = self._refused_param()
        if refused is not None:  # said under the field already; nothing runs until it holds a value
            field, why = refused
            self._set_status(Text(one_line(why), style="bold red"))
            field.focus()
            return
        info = self._runnable_info()
        if info is None:
            return
        preset, overrides = self._chosen_params()
        try:
            run = LabRun(
                info,
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

    def _runnable_info(self) -> LabInfo | None:
        """What `r` runs: a pack's lab from the snapshot of the code trusted, checked at every press; when
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
        self._cursor = 0
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
        if wait > 0:  # read again a little later: a flood of events is read in batches, not one by one
            self.set_timer(wait, self._run_advanced)
            return
        self._wake_posted = False  # events from now on post again
        self._last_drain = monotonic()
        more = self._drain()
        if more:  # the rest of a flood, after the keys waiting meanwhile
            self._wake()
        running = self.lab_run is not None and not self.lab_run.done
        if self.query_one("#run-button", Button).disabled != running:
            self._update_buttons()  # the run ended after its last event was read

    def _reset_view(self) -> None:
        self._stage_index, self._stages_done, self._epoch_columns = -1, set(), []
        self._outcome_reported = False
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

    # -- events -----------------------------------------------------------------------------------

    def _drain(self) -> bool:
        """Show the run's new events; True when more are waiting."""
        if self.lab_run is None:
            return False
        # At most MAX_EVENTS_PER_TICK at a time: a flood of events catches up over a few reads instead
        # of freezing the keyboard for one long one.
        waiting = self.lab_run.events_since(self._cursor)
        events = waiting[:MAX_EVENTS_PER_TICK]
        if not events:
            return False
        self._cursor += len(events)
        chart = self.query_one(LossChart)
        for event in events:
            self._show(event, chart)
        chart.changed()
        return len(waiting) > len(events)

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
            # Until the run ends the bar stays short of full, whatever a lab's plan said.
            total = max(event.total, event.done + 1, 1)
            self.query_one("#progress", ProgressBar).update(total=total, progress=min(event.done, total - 1))
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

    def _log(self, renderable: RenderableType) -> None:
        self.query_one("#outputs", OutputLog).add(renderable)

    def _show_end(self, event: Finished | Failed | Cancelled) -> None:
        if self.lab_run is not None and self.is_current:  # seen here: home and study need not say it
            services_of(self).lab_runs.seen(self.lab_run)
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


class ParamValidator(Validator):
    """A field's value as its parameter parses it (`Param.parse`): refused in the field, with the lab's words."""

    def __init__(self, param: Param) -> None:
        super().__init__()
        self.param = param

    def validate(self, value: str) -> ValidationResult:
        try:
            self.param.parse(value)
        except LabError as error:
            return self.failure(str(error))
        return self.success()


# What each type of field lets be typed at all (a whole-value regex); the validator checks the rest.
_RESTRICT = {
    "int": r"[-+]?[0-9]*",
    "float": r"[-+]?[0-9]*\.?[0-9]*(?:[eE][-+]?[0-9]*)?",
    "ints": r"[-+0-9, ]*",
}

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
