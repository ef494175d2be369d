"""How lab runs look in a terminal: the live events of `cardlab lab run` (EventPrinter), the chart and the
question's answer at the end, and the saved runs (`cardlab lab runs`, `cardlab lab show`)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from tui.commands import home_from_args
from tui.safe_text import printable

if TYPE_CHECKING:
    from rich.console import Console

    from labs.events import LabEvent
    from labs.runs import RunRecord

EXIT_FAILED = 1
EXIT_USAGE = 2


def new_console() -> Console:
    from rich.console import Console

    return Console(highlight=False)


# -- a run as it happens, and at its end --------------------------------------------------------------


def _print_report(lab_id: str, result: dict[str, object] | None, console: Console) -> None:
    """The question with this run's answer, then the lab's verdict (what the lab screen shows at the end)."""
    from labs.registry import LabError, get_lab
    from tui.widgets.run_text import run_report

    try:
        question = get_lab(lab_id).question
    except LabError:  # a saved run of a lab this version no longer has
        question = None
    report = run_report(question.prompt if question else None, result)
    if report is not None:
        console.print()
        console.print(report)


def _print_chart(record: RunRecord, console: Console, per_seed: bool = False) -> None:
    from labs.runs import lr_suggestions
    from tui.widgets.loss_chart import Marker, chart_for, kinds_of, lr_finder_chart

    if not (record.curves or record.lr_finder):
        return
    markers = [Marker(lr, name) for name, lr in lr_suggestions(record).items()]
    width = min(console.width, 100)
    if record.lr_finder:
        console.print(lr_finder_chart(record.lr_finder, markers, width=width, height=14))
    if record.curves:
        kinds = kinds_of(record.epochs)
        console.print(
            chart_for(
                record.curves,
                record.valid_curves,
                [],
                [],
                width=width,
                panel_height=14,
                kinds=kinds,
                per_seed=per_seed,
            )
        )


class EventPrinter:
    """Prints lab events as a notebook would show them: epoch tables, texts and tables."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._columns: list[str] | None = None
        self._stage = ""  # the label of the last epoch row's stage and curve

    def print(self, event: LabEvent) -> None:
        from labs.events import (
            ArtifactSaved,
            Cancelled,
            DataUsed,
            EpochRow,
            Failed,
            Finished,
            StageStarted,
            TableOutput,
            TextOutput,
        )

        console = self.console
        if isinstance(event, StageStarted):
            self._columns = None
            console.print(f"\n[bold cyan]▶ {_escape(event.name)}[/]")  # _escape: markup and controls
        elif isinstance(event, EpochRow):
            self._print_epoch(event)
        elif isinstance(event, TextOutput):
            self._print_text(event)
        elif isinstance(event, TableOutput):
            console.print(_rich_table(event))
        elif isinstance(event, ArtifactSaved):
            console.print(f"[dim]saved {_escape(event.name)}: {_escape(event.path)}[/]")
        elif isinstance(event, DataUsed):
            from dataclasses import asdict

            from labs.verdict_text import data_used_line

            style = "green" if event.source == "real" else "yellow"
            console.print(f"[{style}]{_escape(data_used_line(asdict(event)))}[/]")
        elif isinstance(event, Finished):
            console.print(f"\n[green]finished in {event.seconds:.1f} s[/]")
        elif isinstance(event, Failed):
            console.print(f"\n[red bold]failed:[/] [red]{_escape(event.error)}[/]")
        elif isinstance(event, Cancelled):
            console.print(f"\n[yellow]cancelled during {_escape(event.stage or 'start-up')}[/]")

    def _print_epoch(self, row) -> None:
        from rich.text import Text

        from engine.utils import format_number
        from tui.widgets.run_text import epoch_stage

        columns = ["epoch", "train_loss", "valid_loss", *row.metrics, "time"]
        label = epoch_stage(row)
        if label != self._stage and label != row.stage:  # a stage training several curves: name each
            self.console.print(Text(f"· {printable(row.series)}", style="cyan"))
            self._columns = None
        self._stage = label
        if columns != self._columns:
            self._columns = columns
            self.console.print("  ".join(f"{c:>10}" for c in columns), style="bold")
        values = [row.epoch, row.train_loss, row.valid_loss, *row.metrics.values(), f"{row.seconds:.1f}s"]
        self.console.print("  ".join(f"{format_number(v):>10}" for v in values))

    def _print_text(self, event) -> None:
        from rich.text import Text

        style = {"explanation": "italic", "prediction": "green", "generated": "magenta"}.get(event.kind, "")
        if event.title:
            self.console.print(Text(printable(event.title), style="bold"))
        self.console.print(Text(printable(event.text), style=style))


def _escape(text: str) -> str:
    """`text` for a Rich markup string: its own markup escaped, its control characters shown escaped."""
    from rich.markup import escape

    return escape(printable(text))


def _rich_table(event):
    from rich.table import Table
    from rich.text import Text

    # Text, not str: Rich parses str cells as markup, and these are the lab's (and its data's).
    table = Table(title=Text(printable(event.title)), title_justify="left", box=None, header_style="bold")
    for column in event.columns:
        table.add_column(Text(printable(column)))
    for row in event.rows:
        table.add_row(*(Text(printable(cell)) for cell in row))
    return table


# -- saved runs: list and show --------------------------------------------------------------------------


def list_saved_runs(args: argparse.Namespace) -> int:
    """One line per saved run; a damaged record is listed with what is wrong with it."""
    from rich.text import Text

    from labs.runs import scan_runs
    from labs.verdict_text import outcome_summary

    console = new_console()
    runs_dir = home_from_args(args).runs_dir
    records, damaged = scan_runs(runs_dir, args.lab)
    if not records and not damaged:
        console.print(Text(f"no saved runs in {runs_dir}"))
    for record in records:
        outcome = outcome_summary(record.result) if record.result else record.error or ""
        changed = " ".join(f"{name}={value}" for name, value in changed_params(record).items())
        line = (
            f"{record.run_id}  {record.status:<9} {record.preset:<5} seed {record.seed:<4} "
            f"{_data_source(record):<9} {record.seconds:7.1f}s  {outcome}"
            + (f"  [{changed}]" if changed else "")
        )
        console.print(Text(printable(line, one_line=True)), soft_wrap=True)  # one run, one line
    for bad in damaged:
        line = f"{bad.run_id}  damaged   {bad.path}: {bad.reason}"
        console.print(Text(printable(line, one_line=True), style="red"))
    return 0


def changed_params(record: RunRecord) -> dict[str, object]:
    """The run's parameters that differ from its preset's values (`--set`), so runs can be told apart; none
    when the lab is no longer known."""
    from labs.registry import LabError, get_lab

    try:
        preset_values = get_lab(record.lab_id).resolve(record.preset)
    except LabError:
        return {}
    return {name: value for name, value in record.params.items() if preset_values.get(name, value) != value}


def _data_source(record: RunRecord) -> str:
    """ "real", "generated", or the `--data` argument of a run saved before labs reported their data."""
    if isinstance(record.data, dict):
        return str(record.data.get("source", "?"))
    return "" if record.data is None else "data given"


def show_run(args: argparse.Namespace) -> int:
    from labs.runs import RunRecordError, load_run

    if not args.run_id:
        return list_saved_runs(args)
    console = new_console()
    try:
        record = load_run(home_from_args(args).runs_dir, args.run_id)
    except FileNotFoundError as error:
        print(f"cardlab lab show: {printable(str(error), one_line=True)}", file=sys.stderr)
        return EXIT_USAGE
    except RunRecordError as error:
        print(f"cardlab lab show: {printable(str(error), one_line=True)}", file=sys.stderr)
        return EXIT_FAILED
    _print_header(record, console)
    printer = EventPrinter(console)
    for event in record.replay():
        printer.print(event)
    _print_chart(record, console, per_seed=getattr(args, "per_seed", False))
    if record.status == "finished":
        _print_report(record.lab_id, record.result, console)
    return 0


def _print_header(record: RunRecord, console: Console) -> None:
    """What the run was: enough to run it again (`--preset`, `--seed`, `--device`, `--data`, `--set`)."""
    from rich.text import Text

    console.print(Text.assemble((record.run_id, "bold"), f": {record.lab_id}, {record.status}"))
    setup = f"preset {record.preset}, seed {record.seed}, device {record.device}, data {_data_of(record)}"
    console.print(Text(printable(setup)))
    params = ", ".join(f"{k}={v}" for k, v in record.params.items())
    console.print(Text(printable(f"params: {params}"), style="dim"))


def _data_of(record: RunRecord) -> str:
    """What the run trained on, as the lab reported it; for a run saved before labs reported it, `--data`
    as given, else the full preset's real dataset or generated data."""
    from labs.registry import LabError, get_lab
    from labs.verdict_text import data_used_line

    if isinstance(record.data, dict):
        return data_used_line(record.data)
    if record.data:
        return record.data
    try:
        full_data = get_lab(record.lab_id).full_data
    except LabError:
        return "the lab's default"
    return full_data if record.preset == "full" and full_data else "generated"
