"""The `cardlab` command line: one argparse tree, subcommands registered by `tui.commands.*`."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tui.safe_text import printable

if TYPE_CHECKING:
    import argparse

# Each module registers its own subcommands (the names listed); order is the order shown in --help.
COMMAND_MODULES = {
    "study": ("study", "stats", "optimize", "doctor"),
    "cards": ("cards",),
    "pack": ("pack", "packs"),
    "config": ("config",),
    "lab": ("lab",),
    "models": ("models",),
    "data": ("data",),
    "transfer": ("import", "export"),
}
OPTIONS_WITH_A_VALUE = ("--home",)


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("cardlab")
    except PackageNotFoundError:
        return "0.0.0+source"


def build_parser(arguments: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The command line's parser. Given the `arguments`, only the module of the command they name
    registers its subcommands (all of them are a tenth of the app's start-up); without, every module."""
    import argparse  # here: opening the app reads its few arguments without it (`plain_app_arguments`)

    class VersionAction(argparse.Action):
        """Looks the version up only when asked: importlib.metadata costs start-up time."""

        def __call__(self, parser, namespace, values, option_string=None) -> None:  # noqa: ANN001
            print(f"cardlab {version()}")
            parser.exit()

    parser = argparse.ArgumentParser(
        prog="cardlab",
        description="Flashcards for deep learning with runnable training labs, in your terminal. "
        "With no command, opens the app on the bundled packs and your own.",
    )
    parser.add_argument("--version", action=VersionAction, nargs=0, help="show the version and exit")
    parser.add_argument(
        "--debug", action="store_true", help="on an error, show the Python traceback instead of one line"
    )
    parser.add_argument(
        "--home",
        metavar="DIR",
        help="keep all state (reviews, packs, config, runs, datasets) under DIR "
        "(default: $CARDLAB_HOME, else your platform's data folders)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES if arguments is None else modules_needed(arguments):
        module = importlib.import_module(f"tui.commands.{name}")
        module.register(subparsers)
    return parser


def modules_needed(arguments: Sequence[str]) -> list[str]:
    """The command modules that parsing `arguments` needs: the one of the command named, none when
    no command is named (the app opens), and all for help or a name argparse must reject."""
    index, word = _command_word(arguments)
    asks_help = any(argument in ("-h", "--help") for argument in arguments[:index])
    if word is None and not asks_help:
        return []
    owner = [name for name, commands in COMMAND_MODULES.items() if word in commands]
    return owner if owner and not asks_help else list(COMMAND_MODULES)


def plain_app_arguments(arguments: Sequence[str]) -> tuple[str | None, str | None] | None:
    """(home, pack) when `arguments` only open the app: `[--home DIR] [study PACK_OR_PATH [--home DIR]]`
    (the later --home wins, as in the parser). These need no parser: importing argparse and building one
    are ~3 ms of the app's start-up. None for anything else (other commands, other options, help, values
    that start with "-" or are empty), which the parser reads as always."""
    rest = list(arguments)
    home = None
    if rest[:1] == ["--home"] and len(rest) >= 2 and _plain_value(rest[1]):
        home, rest = rest[1], rest[2:]
    if not rest:
        return home, None
    if rest[0] != "study" or len(rest) not in (2, 4) or not _plain_value(rest[1]):
        return None
    if len(rest) == 4:
        if rest[2] != "--home" or not _plain_value(rest[3]):
            return None
        home = rest[3]
    return home, rest[1]


def _plain_value(argument: str) -> bool:
    """A value the parser would take as it is (not empty, and not an option)."""
    return bool(argument) and not argument.startswith("-")


def _command_word(arguments: Sequence[str]) -> tuple[int, str | None]:
    """(index, the first argument that is neither an option nor an option's value), or (len, None)."""
    index = 0
    while index < len(arguments):
        argument = arguments[index]
        if argument in OPTIONS_WITH_A_VALUE:
            index += 2
        elif argument.startswith("-") and argument != "-":
            index += 1
        else:
            return index, argument
    return len(arguments), None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every error ends as one line on stderr and an exit code (a traceback with --debug)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        return _run(arguments)
    except SystemExit:  # argparse's usage errors, --help and --version already said what they had to
        raise
    except BaseException as error:
        if "--debug" in arguments:
            raise
        return _report(error)


def _run(arguments: list[str]) -> int:
    # Set before torch is first imported: OpenMP threads that spin while idle starve the UI thread and
    # the other core while a lab trains (measured 1 s → 9–56 s for a collab fit on a busy 2-core machine).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    plain = plain_app_arguments(arguments)
    if plain is not None:
        return _open_app(*plain)
    args = build_parser(arguments).parse_args(arguments)
    handler = getattr(args, "handler", None)
    if handler is None:
        return _open_app(getattr(args, "home", None), None)
    return int(handler(args) or 0)


def _open_app(home: str | None, pack: str | None) -> int:
    from cards.paths import Home
    from tui.commands.study import open_app

    return open_app(Home.resolve(home), pack)


def _report(error: BaseException) -> int:
    """Print `error` as one line and return the exit code for it."""
    if isinstance(error, KeyboardInterrupt):
        print("cardlab: interrupted", file=sys.stderr)
        return 130
    if isinstance(error, BrokenPipeError):
        # The reader went away (`cardlab stats --json | head`): stop quietly, and point stdout at
        # /dev/null so the interpreter's final flush cannot raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a command killed by the broken pipe would exit
    if isinstance(error, OSError):
        print(f"cardlab: {printable(describe_os_error(error), one_line=True)}", file=sys.stderr)
        return 1
    detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    detail = printable(detail, one_line=True)
    print(f"cardlab: internal error: {detail} (run with --debug for the traceback)", file=sys.stderr)
    return 1


def describe_os_error(error: OSError) -> str:
    """ "cannot use FILE: Read-only file system": the file and the system's reason, with long names cut."""
    reason = error.strerror or str(error) or type(error).__name__
    names = [name for name in (error.filename, error.filename2) if name is not None]
    if not names:
        return reason
    shown = " → ".join(_short(os.fsdecode(name)) for name in names)
    return f"cannot use {shown}: {reason}"


def _short(name: str, limit: int = 120) -> str:
    return name if len(name) <= limit else f"{name[: limit // 2]}…{name[-limit // 2 :]}"


if __name__ == "__main__":
    sys.exit(main())
