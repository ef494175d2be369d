"""The `cardlab` command line: one argparse tree, subcommands registered by `tui.commands.*`."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# Each module registers its own subcommands; order is the order shown in --help.
COMMAND_MODULES = ("study", "pack", "lab", "models", "data")


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("cardlab")
    except PackageNotFoundError:
        return "0.0.0+source"


class VersionAction(argparse.Action):
    """Looks the version up only when asked: importlib.metadata costs start-up time."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # noqa: ANN001
        print(f"cardlab {version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cardlab",
        description="Flashcards for deep learning with runnable training labs, in your terminal. "
        "With no command, opens the app on the bundled packs and your own.",
    )
    parser.add_argument("--version", action=VersionAction, nargs=0, help="show the version and exit")
    parser.add_argument(
        "--home",
        metavar="DIR",
        help="keep all state (reviews, packs, config, runs, datasets) under DIR "
        "(default: $CARDLAB_HOME, else your platform's data folders)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"tui.commands.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Set before torch is first imported: OpenMP threads that spin while idle starve the UI thread and
    # the other core while a lab trains (measured 1 s → 9–56 s for a collab fit on a busy 2-core machine).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        from tui.commands.study import open_app

        return open_app(args)
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
