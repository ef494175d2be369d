"""`cardlab data list | fetch NAME | verify [NAME] | path NAME`: the lesson's real datasets.

Datasets are downloaded from their canonical URLs into the cache (`--home DIR`/datasets), checked
against their published size and hashes, and unpacked safely; labs then take `--data NAME`.
Exit status: 0 ok, 1 failed (offline, checksum mismatch, not fetched), 2 bad arguments (unknown name).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from tui.commands import home_from_args
from tui.safe_text import printable

if TYPE_CHECKING:
    from rich.console import Console

    from cards.paths import Home
    from engine.datasets.catalog import Dataset

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser(
        "data",
        help="list, fetch, verify and locate the lesson's real datasets",
        description=__doc__.split("\n")[0],
    )
    commands = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    data.set_defaults(handler=lambda args: _usage(data))

    listing = commands.add_parser("list", help="every known dataset: size, license, cached, verified")
    listing.set_defaults(handler=list_datasets)

    fetch = commands.add_parser("fetch", help="download, check and unpack a dataset into the cache")
    fetch.add_argument("name", metavar="NAME", help="dataset name (see `cardlab data list`)")
    fetch.add_argument("--force", action="store_true", help="fetch again even if it is already cached")
    fetch.add_argument(
        "--url",
        help="take the archive from here instead (a mirror, or file:///path to a copy); checks still apply",
    )
    fetch.set_defaults(handler=fetch_dataset)

    verify = commands.add_parser("verify", help="check cached datasets (all of them without NAME)")
    verify.add_argument("name", metavar="NAME", nargs="?", help="only this dataset")
    verify.set_defaults(handler=verify_datasets)

    path = commands.add_parser("path", help="print a cached dataset's folder (for scripts)")
    path.add_argument("name", metavar="NAME", help="dataset name")
    path.set_defaults(handler=print_path)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return EXIT_USAGE


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    # markup off: messages carry paths and URLs, which may hold [brackets]
    return Console(highlight=False, markup=False, stderr=stderr, soft_wrap=True)


def _fail(message: str, code: int = EXIT_FAILED) -> int:
    from rich.text import Text

    _console(stderr=True).print(Text.assemble(("error: ", "bold red"), printable(message)))
    return code


def _lookup(name: str) -> Dataset | int:
    """The catalog entry, or the usage exit code after a did-you-mean."""
    from engine.datasets.catalog import UnknownDataset, get

    try:
        return get(name)
    except UnknownDataset as err:
        return _fail(str(err), EXIT_USAGE)


# -- list -------------------------------------------------------------------------------------------


def list_datasets(args: argparse.Namespace) -> int:
    from rich.table import Table

    from engine.datasets.catalog import CATALOG, format_size
    from engine.datasets.fetch import verify

    home = home_from_args(args)
    table = Table(
        "name", "size", "license", "cached", "verified", box=None, pad_edge=False, header_style="bold"
    )
    for entry in CATALOG.values():
        status = verify(entry.name, home, deep=False)
        cached = _cached_cell(entry, home, status.state)
        if status.ok:
            verified = status.check or "?"
        else:
            verified = "no" if cached == "yes" else "-"
        table.add_row(entry.name, format_size(entry.size), entry.license_name, cached, verified)
    console = _console()
    if not console.is_terminal:  # piped: keep one dataset per line for scripts
        console.width = max(console.width, 120)
    console.print(table)
    console.print(printable(f"cache: {home.datasets_dir}"))
    return EXIT_OK


def _cached_cell(entry: Dataset, home: Home, state: str) -> str:
    from engine.datasets.fetch import part_path

    if state == "not fetched":
        return "no"
    if state == "partial download":
        done = part_path(entry.name, home).stat().st_size
        return f"partial {100 * done // entry.size}%"
    return "yes"


# -- fetch ------------------------------------------------------------------------------------------


def fetch_dataset(args: argparse.Namespace) -> int:
    from engine.datasets.catalog import DatasetError, describe_check, format_size
    from engine.datasets.fetch import fetch, is_fetched

    entry = _lookup(args.name)
    if isinstance(entry, int):
        return entry
    home = home_from_args(args)
    console = _console()
    if is_fetched(entry.name, home) and not args.force:
        console.print(printable(f"{entry.name} is already fetched: {home.datasets_dir / entry.folder}"))
        return EXIT_OK
    source = args.url or entry.url
    console.print(printable(f"{entry.title} ({entry.name}), {format_size(entry.size)} from {source}"))
    console.print(f"License: {entry.license}")
    console.print(f"Checked by {describe_check(entry.check_kind)}.")
    try:
        with _DownloadBar(entry) as bar:
            folder = fetch(
                entry, home, url=args.url, force=args.force, progress=bar.update, on_stage=bar.stage
            )
    except DatasetError as err:
        return _fail(str(err))
    console.print(printable(f"{entry.name} is ready: {folder}"))
    return EXIT_OK


class _DownloadBar:
    """A rich progress bar on stderr for the download, then one line per later stage."""

    def __init__(self, entry: Dataset) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.console = _console(stderr=True)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.task = self.progress.add_task(entry.archive_name, total=entry.size)

    def __enter__(self) -> _DownloadBar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def _stop(self) -> None:
        if self.progress.live.is_started:
            self.progress.stop()

    def update(self, done: int, total: int) -> None:
        self.progress.update(self.task, completed=done, total=total)

    def stage(self, stage: str) -> None:
        if stage != "download":
            self._stop()
            self.console.print({"check": "checking the archive...", "extract": "unpacking..."}[stage])


# -- verify -----------------------------------------------------------------------------------------


def verify_datasets(args: argparse.Namespace) -> int:
    from engine.datasets.catalog import CATALOG
    from engine.datasets.fetch import verify

    home = home_from_args(args)
    if args.name is not None:
        entry = _lookup(args.name)
        if isinstance(entry, int):
            return entry
        names = [entry.name]
    else:
        names = list(CATALOG)
    results = [verify(name, home) for name in names]
    console = _console()
    for result in results:
        console.print(printable(f"{result.name}: {result.summary}"))
        if result.ok and result.archive_sha256:
            console.print(f"  archive sha256 {result.archive_sha256}")
    if args.name is not None and results[0].state in ("not fetched", "partial download"):
        return _fail(f"{args.name} is not fetched: run `cardlab data fetch {args.name}`")
    broken = [r.name for r in results if r.state == "broken"]
    if broken:
        return _fail(
            f"{', '.join(broken)} failed verification; fetch again with `cardlab data fetch NAME --force`"
        )
    return EXIT_OK


# -- path -------------------------------------------------------------------------------------------


def print_path(args: argparse.Namespace) -> int:
    from engine.datasets.catalog import DatasetError
    from engine.datasets.fetch import dataset_path

    entry = _lookup(args.name)
    if isinstance(entry, int):
        return entry
    try:
        folder = dataset_path(entry.name, home_from_args(args))
    except DatasetError as err:
        return _fail(str(err))
    sys.stdout.write(f"{printable(folder, one_line=True)}\n")
    return EXIT_OK
