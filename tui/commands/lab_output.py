"""How lab runs look in a terminal: a run's state as `cardlab lab run` follows it (RunPrinter), the chart and the
question's answer at the end, and the saved runs (`cardlab lab runs`, `cardlab lab show`)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from tui.commands import home_from_args
from tui.safe_text import printable

if TYPE_CHECKING:
    from rich.console import Console

    from labs.events import EpochRow, LabEvent
    from labs.run_state import RunState
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
    from tui.widgets.loss_chart import Marker, chart_for, kinds_of, lr_finder_chart

    if not (record.curves or record.lr_finder):
        return
    markers = [Marker(lr, name) for name, lr in record.lr_suggestions().items()]
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


class RunPrinter:
    """Prints a run's state as a notebook would show it: the outputs it has not printed yet, in order
    (stage headings, epoch tables, texts and tables, the end), styled as the lab screen styles them."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.printed = 0  # the state's outputs printed so far
        self._columns: list[str] | None = None
        self._stage = ""  # the label of the last epoch row's stage and curve

    def print_new(self, state: RunState) -> None:
        """The outputs added to `state` since the last call (the caller holds it still: `LabRun.reading`)."""
        for event in state.outputs[self.printed :]:
            self.print(event)
        self.printed = len(state.outputs)

    def print(self, event: LabEvent) -> None:
        from rich.text import Text

        from labs.events import Cancelled, EpochRow, Failed, Finished, StageStarted
        from tui.widgets.run_text import output_renderables

        console = self.console
        if isinstance(event, StageStarted):
            self._columns = None
            console.print()
            console.print(Text(f"▶ {printable(event.name)}", style="bold cyan"))
        elif isinstance(event, EpochRow):
            self._print_epoch(event)
        elif isinstance(event, Finished):
            console.print(Text(f"\nfinished in {event.seconds:.1f} s", style="green"))
        elif isinstance(event, Failed):
            console.print(Text.assemble("\n", ("failed: ", "bold red"), (printable(event.error), "red")))
        elif isinstance(event, Cancelled):
            console.print(Text(f"\ncancelled during {printable(event.stage or 'start-up')}", style="yellow"))
        else:
            for renderable in output_renderables(event, safe=printable):
                console.print(renderable)

    def _print_epoch(self, row: EpochRow) -> None:
        from rich.text import Text

        from tui.widgets.run_text import epoch_cells, epoch_columns, epoch_stage

        label = epoch_stage(row)
        if label != self._stage and label != row.stage:  # a stage training several curves: name each
            # (fits running at once interleave their rows: the name again, under the same column heads)
            self.console.print(Text(f"· {printable(row.series)}", style="cyan"))
        self._stage = label
        columns = epoch_columns(row)
        if columns != self._columns:
            self._columns = columns
            self.console.print(Text(printable("  ".join(f"{c:>10}" for c in columns)), style="bold"))
        cells = epoch_cells(row)
        self.console.print(Text(printable("  ".join(f"{cells[c]:>10}" for c in columns))))


def _escape(text: str) -> str:
    """`text` for a Rich markup string: its own markup escaped, its control characters shown escaped."""
    from rich.markup import escape

    return escape(printable(text))


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
    RunPrinter(console).print_new(record)
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
