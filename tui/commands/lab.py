"""`cardlab lab list | run ID | show [RUN_ID]`: labs without the app.

`run` streams the lab's events to the terminal (a progress bar with ETA, the epoch rows as the
notebooks print them, texts and tables), draws the loss chart at the end and saves the run.
Exit status: 0 finished, 1 failed or not saved, 2 bad arguments, 130 interrupted: Ctrl-C cancels the
lab and saves the partial run; a second Ctrl-C kills the lab's process at once, and still saves.
SIGTERM (143) and SIGHUP (129, the terminal closed) do the same. The lab's process never outlives this
one: it dies with it even when this one is killed (`labs.worker`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from labs.presets import DEFAULT_PRESET, PRESET_NAMES
from tui.commands import home_from_args
from tui.commands.lab_output import (
    EXIT_FAILED,
    EXIT_USAGE,
    RunPrinter,
    _escape,
    _print_chart,
    _print_report,
    list_saved_runs,
    new_console,
    show_run,
)
from tui.safe_text import printable

if TYPE_CHECKING:
    from rich.console import Console

    from labs.runner import LabRun

EXIT_INTERRUPTED = 130


def register(subparsers: argparse._SubParsersAction) -> None:
    lab = subparsers.add_parser(
        "lab", help="list, run and show training labs", description=__doc__.split("\n")[0]
    )
    commands = lab.add_subparsers(dest="lab_command", metavar="LAB_COMMAND")
    lab.set_defaults(handler=lambda args: _usage(lab))

    listing = commands.add_parser("list", help="every lab with its cards and parameters")
    listing.add_argument("--params", action="store_true", help="also list each lab's parameters and presets")
    listing.set_defaults(handler=list_labs)

    run = commands.add_parser("run", help="run a lab in the terminal and save the run")
    run.add_argument("lab_id", metavar="ID", help="lab id (see `cardlab lab list`)")
    run.add_argument(
        "--preset",
        default=DEFAULT_PRESET,
        choices=PRESET_NAMES,
        help=f"size of the run (default {DEFAULT_PRESET})",
    )
    run.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    run.add_argument("--data", metavar="NAME|PATH", help="a real dataset: a cached dataset name or a path")
    run.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a parameter",
    )
    run.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    _add_launch_arguments(run)
    run.add_argument("--no-save", action="store_true", help="do not save the run")
    run.add_argument(
        "--trust", action="store_true", help="trust a pack's lab (its code runs as you) and run it"
    )
    run.set_defaults(handler=run_lab)

    new = commands.add_parser("new", help="start a lab of your own: DIR/LAB_ID/lab.toml and lab.py")
    new.add_argument("folder", metavar="DIR/LAB_ID", help="the lab's folder; its name is the lab id")
    new.set_defaults(handler=new_lab)

    show = commands.add_parser("show", help="chart and table of a saved run (no RUN_ID: list saved runs)")
    show.add_argument("run_id", metavar="RUN_ID", nargs="?", help="a saved run's id")
    show.add_argument("--lab", help="only list runs of this lab")
    show.add_argument(
        "--per-seed",
        action="store_true",
        help="draw every seed's curve, not each arm's mean with a band for its seeds' spread",
    )
    show.set_defaults(handler=show_run)

    runs = commands.add_parser("runs", help="list the saved runs, newest first, and any damaged records")
    runs.add_argument("--lab", help="only list runs of this lab")
    runs.set_defaults(handler=list_saved_runs)


def _add_launch_arguments(run: argparse.ArgumentParser) -> None:
    """torchrun's options, passed through (see docs/distributed.md)."""
    group = run.add_argument_group("several processes (torchrun; docs/distributed.md)")
    group.add_argument(
        "--nproc", type=int, default=1, metavar="N", help="processes on this machine, one per GPU"
    )
    group.add_argument("--nnodes", type=int, default=1, metavar="N", help="machines taking part (default 1)")
    group.add_argument("--node-rank", type=int, default=0, metavar="R", help="this machine's index, 0 first")
    group.add_argument("--master-addr", default="127.0.0.1", metavar="HOST", help="node 0's address")
    group.add_argument("--master-port", type=int, default=29500, metavar="PORT", help="node 0's free port")


def _launch(args: argparse.Namespace):
    from labs.launch import Launch

    return Launch(args.nproc, args.nnodes, args.node_rank, args.master_addr, args.master_port)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return EXIT_USAGE


def list_labs(args: argparse.Namespace) -> int:
    from rich.table import Table
    from rich.text import Text

    from labs.packlabs import register_home_pack_labs
    from labs.registry import all_labs

    for problem in register_home_pack_labs(home_from_args(args)):  # why a pack's labs are not listed
        print(printable(problem), file=sys.stderr)
    console = new_console()
    table = Table("id", "title", "cards", box=None, header_style="bold")
    for info in all_labs():  # Text: a pack's lab titles are shown as written, never as markup
        table.add_row(*(Text(printable(cell)) for cell in (info.id, info.title, ", ".join(info.card_ids))))
    console.print(table)
    if args.params:
        for info in all_labs():
            console.print(f"\n[bold]{_escape(info.id)}[/]")
            params = Table("parameter", *PRESET_NAMES, "help", box=None, header_style="dim")
            for param in info.params:
                values = [str(info.resolve(preset)[param.name]) for preset in PRESET_NAMES]
                params.add_row(*(Text(printable(cell)) for cell in (param.name, *values, param.help)))
            console.print(params)
    return 0


# -- run --------------------------------------------------------------------------------------------


def run_lab(args: argparse.Namespace) -> int:
    from labs.registry import LabError, get_lab
    from labs.runner import LabRun

    console = new_console()
    home = home_from_args(args)
    try:
        info = get_lab(args.lab_id) if _has_lab(args.lab_id) else _pack_lab(home, args.lab_id)
        runnable = _runnable(home, info, trust=args.trust)
        if runnable is None:
            return EXIT_FAILED
        info = runnable
        overrides = info.parse_assignments(args.assignments)
        launch = _launch(args)
        run = LabRun(
            info,
            preset=args.preset,
            overrides=overrides,
            device=args.device,
            seed=args.seed,
            data=args.data,
            runs_dir=None if args.no_save else home.runs_dir,
            home=home,
            launch=launch,
        )
    except LabError as error:  # may quote a --data file's header: printed escaped
        print(f"cardlab lab run: {printable(error, one_line=True)}", file=sys.stderr)
        return EXIT_USAGE
    processes = f", {launch.nproc * launch.nnodes} processes" if launch.distributed else ""
    console.print(
        f"[bold]{_escape(info.title)}[/]  ({_escape(info.id)}, preset {args.preset}, seed {args.seed}{processes})"
    )
    if launch.distributed and not launch.reports:
        return _follow_silent_node(run, launch.node_rank, console)
    return follow_to_end(run, console)


def _follow_silent_node(run: LabRun, node_rank: int, console: Console) -> int:
    """A node without rank 0 trains along; node 0 shows the events and saves the run."""
    console.print(f"node {node_rank}: training along; node 0 shows the progress and saves the run")
    run.start()
    try:
        run.join()
    except KeyboardInterrupt:
        run.cancel()
        run.join(timeout=30)
        return EXIT_INTERRUPTED
    if run.status == "finished":
        console.print(f"node {node_rank}: its processes finished")
        return 0
    error = run.record.error or "failed"
    console.print(f"[red]node {node_rank}: {_escape(error)}[/]")
    return EXIT_FAILED


def new_lab(args: argparse.Namespace) -> int:
    from labs.errors import LabError
    from labs.scaffold import new_lab as write_lab

    try:
        folder = write_lab(Path(args.folder))
    except LabError as error:
        print(f"cardlab lab new: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(f"wrote {folder / 'lab.toml'} and {folder / 'lab.py'}; list its folder's parent in a pack's labs")
    return 0


def _has_lab(lab_id: str) -> bool:
    from labs.registry import known_lab_ids

    return lab_id in known_lab_ids()


def _pack_lab(home, lab_id: str):
    """A lab of one of the user's packs (read only when the id is not a built-in lab's)."""
    from labs.packlabs import register_home_pack_labs
    from labs.registry import get_lab

    for problem in register_home_pack_labs(home):
        print(problem, file=sys.stderr)
    return get_lab(lab_id)


def _runnable(home, info, trust: bool):
    """What runs: a built-in lab as it is; a pack's lab from the snapshot of its trusted code (`--trust`
    trusts the pack's labs as they are now), or None, said why, when its pack is not trusted."""
    from labs.packlabs import accept, check_trust

    check = check_trust(home, info)
    if check.info is not None:
        return check.info
    if check.content is None:
        print(f"cardlab lab run: lab {info.id!r}: its pack's labs are gone", file=sys.stderr)
        return None
    pack_id = check.content.pack_id
    if trust:
        return accept(home, check.content, info)
    print(
        f"cardlab lab run: lab {info.id!r} comes with the pack {pack_id!r} and runs its code as you; it is not "
        f"trusted yet (or changed since). Read it, then run `cardlab pack trust {pack_id}`, or pass --trust.",
        file=sys.stderr,
    )
    return None


def follow_to_end(run: LabRun, console: Console | None = None) -> int:
    """Start `run`, print its events with a progress bar, and return the exit code.

    Ctrl-C cancels the lab at its next batch (its last events still print); a second Ctrl-C kills its
    process. Either way the partial run is saved as cancelled and the lab's process is gone on return.
    """
    console = console or new_console()
    interrupts = CtrlC(run)
    try:
        with interrupts.handled():
            _follow(run, console, interrupts)
    except KeyboardInterrupt:  # before the lab's process started, or where SIGINT cannot be handled
        interrupts.count += 1
    finally:  # whatever ended the following (a signal, a terminal gone), the run ends here and is saved
        with interrupts.handled():
            run.stop()  # cancels a run still going (bounded), ends the process, joins its readers
    saved = _report_saved(run, console)
    if interrupts.count:
        return 128 + interrupts.signum if saved else EXIT_FAILED  # 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP
    _print_chart(run.record, console)
    if not saved:
        return EXIT_FAILED
    if run.status == "finished":
        _print_report(run.info.id, run.result, console)
        return 0
    return EXIT_FAILED


class CtrlC:
    """SIGINT while a lab runs: the first cancels it, the next ones kill its process. Nothing is raised,
    so the run's end is always followed and saved (a KeyboardInterrupt could land in the middle of it).
    SIGTERM and SIGHUP (the terminal closed) do the same: the partial run is saved as cancelled, and the
    exit status says which signal came first (128 + its number)."""

    def __init__(self, run: LabRun) -> None:
        self.run = run
        self.count = 0
        self.signum = int(signal.SIGINT)  # the first signal (a KeyboardInterrupt: Ctrl-C)
        self._signalled = False
        self._starting = False
        self._deferred: int | None = None

    def start(self) -> None:
        """Start the run; a signal meanwhile is acted on once the process has its spec and readers."""
        self._starting = True
        try:
            self.run.start()
        finally:
            self._starting = False
        if self._deferred is not None:
            deferred, self._deferred = self._deferred, None
            self._interrupted(deferred, None)

    @contextlib.contextmanager
    def handled(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # only the main thread can handle signals: Ctrl-C raises there as usual
            return
        previous = {signum: signal.signal(signum, self._interrupted) for signum in _ENDING_SIGNALS}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _interrupted(self, signum: int, frame: object) -> None:
        if signum == getattr(signal, "SIGHUP", None):
            _leave_terminal()
        if self._starting:
            self._deferred = signum
            return
        if not self._signalled:
            self._signalled, self.signum = True, int(signum)
        if not self.run.started:
            raise KeyboardInterrupt  # nothing runs yet: stop where we are
        self.count += 1
        if self.count == 1:
            self.run.cancel()
            if signum == signal.SIGINT:
                _say("\ncancelling at the next batch… (Ctrl-C again stops it at once)\n")
            else:
                _say(f"\n{signal.Signals(signum).name}: cancelling the lab and saving the partial run…\n")
        else:
            self.run.kill()


_ENDING_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def _leave_terminal() -> None:
    """The terminal is gone (SIGHUP): what is still printed goes nowhere instead of failing the save."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        for fd in (1, 2):
            os.dup2(null, fd)
        os.close(null)
    except OSError:
        pass


def _say(text: str) -> None:
    """To stderr without Python's buffered streams, which a signal handler must not re-enter."""
    try:
        os.write(sys.stderr.fileno(), text.encode("utf-8", "replace"))
    except (OSError, ValueError):  # no file descriptor behind stderr (a captured test run)
        pass


def _follow(run: LabRun, console: Console, interrupts: CtrlC) -> None:
    """Print the run's state as it changes, with a bar over the lab's whole plan, until the run ends."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    printer = RunPrinter(console)
    # The lab's own ETA (measured over the whole plan, labs.context), not rich's guess from recent steps.
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[eta]}"),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("starting", total=None, eta="")
        interrupts.start()
        seen = -1
        while True:
            ended = run.done  # read first: a run that ends meanwhile is drawn once more, whole
            with run.reading() as state:
                seen = state.changes
                printer.print_new(state)
                progress, eta = state.progress_done(), state.progress.eta if state.progress else None
                stage = state.stage.name if state.stage else "starting"
            if progress is not None:
                left = "" if eta is None else f"ETA {_duration(eta)}"
                bar.update(task, completed=progress[0], total=progress[1], eta=left, description=stage)
            if ended:
                return
            run.wait_for_change(seen, 0.2)


def _duration(seconds: float) -> str:
    seconds = max(int(round(seconds)), 0)
    return f"{seconds // 60}:{seconds % 60:02d}"


def _report_saved(run: LabRun, console: Console) -> bool:
    """Say where the run was saved, or why it was not; False when it should have been and was not."""
    if run.saved_path is not None:
        console.print(f"[dim]saved run {run.run_id} (cardlab lab show {run.run_id})[/]")
    if run.save_error is None:
        return True
    from tui.cli import describe_os_error

    reason = printable(describe_os_error(run.save_error), one_line=True)
    print(f"cardlab lab run: the run was not saved: {reason}", file=sys.stderr)
    return False
