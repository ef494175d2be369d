"""`cardlab pack check|add|list` (also spelled `cardlab packs ...`).

Output contract: summaries go to stdout; each problem is one `file:line[:column]: message` line on stderr.
Exit codes: 0 all packs valid, 1 some pack has problems, 2 usage error (e.g. a path that does not exist).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Collection
from pathlib import Path

from cards.pack import Pack, PackError, Problem, duplicate_pack_message, expand_paths, load_pack, pack_id_line
from tui.safe_text import printable

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pack",
        aliases=["packs"],
        help="check, add and list flashcard packs",
        description="Check pack files, add a pack to your packs folder, or list the packs cardlab finds.",
    )
    parser.set_defaults(handler=lambda args: _usage(parser))
    actions = parser.add_subparsers(dest="pack_command", metavar="ACTION")

    check = actions.add_parser(
        "check",
        help="validate pack files",
        description="Validate pack files (a folder means every *.toml in it). Prints one summary line per "
        "valid pack on stdout and one 'file:line: message' line per problem on stderr. "
        "Exit status: 0 all valid, 1 problems found, 2 usage error.",
    )
    check.add_argument("paths", nargs="+", metavar="PATH", help="a pack .toml file or a folder of them")
    check.set_defaults(handler=check_command)

    add = actions.add_parser(
        "add",
        help="validate a pack and copy it into your packs folder",
        description="Validate FILE and copy it into your packs folder as <pack id>.toml, so cardlab "
        "studies it. Refuses an invalid pack or a pack id that is already taken.",
    )
    add.add_argument("file", metavar="FILE", help="the pack .toml file")
    add.add_argument(
        "--replace", action="store_true", help="update your pack with the same id (review history is kept)"
    )
    add.set_defaults(handler=add_command)

    listing = actions.add_parser(
        "list",
        help="list the bundled packs and yours",
        description="List every pack cardlab finds (bundled, then your packs folder) and report broken ones.",
    )
    listing.set_defaults(handler=list_command)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def _known_labs() -> Collection[str]:
    """Lab ids to validate `lab` keys against (the registry is torch-free, so this stays cheap)."""
    from labs.registry import known_lab_ids

    return known_lab_ids()


def summary(pack: Pack) -> str:
    notes = len({card.note_id for card in pack.cards})
    count = f"{len(pack.cards)} cards" + (f" from {notes} notes" if notes != len(pack.cards) else "")
    tags = ", ".join(pack.tags) or "none"
    return f"{pack.id} {pack.version}: {count}, tags: {tags} ({pack.path})"


def _report(problems: list[Problem]) -> None:
    for problem in problems:
        print(printable(problem), file=sys.stderr)


def _usage_error(command: str, message: str) -> int:
    print(printable(f"cardlab {command}: error: {message}"), file=sys.stderr)
    return EXIT_USAGE


def check_command(args: argparse.Namespace) -> int:
    missing = [path for path in args.paths if not Path(path).exists()]
    if missing:
        return _usage_error("pack check", "no such file or folder: " + ", ".join(missing))
    files = expand_paths(args.paths)
    if not files:
        return _usage_error("pack check", "no .toml files in " + ", ".join(args.paths))
    known_labs = _known_labs()
    problems: list[Problem] = []
    first_use: dict[str, Path] = {}
    for file in files:
        try:
            pack = load_pack(file, known_labs)
        except PackError as error:
            problems.extend(error.problems)
            continue
        if pack.id in first_use:
            other = first_use[pack.id]
            message = duplicate_pack_message(pack.id, other, pack_id_line(other))
            problems.append(Problem(file, pack_id_line(file), None, message))
            continue
        first_use[pack.id] = file
        print(printable(summary(pack)))
    _report(problems)
    return EXIT_PROBLEMS if problems else EXIT_OK


def add_command(args: argparse.Namespace) -> int:
    from cards.discover import add_pack
    from cards.paths import Home

    if not Path(args.file).is_file():
        return _usage_error("pack add", f"no such file: {args.file}")
    home = Home.resolve(args.home)
    try:
        destination = add_pack(home, args.file, _known_labs(), replace=args.replace)
    except PackError as error:
        _report(error.problems)
        return EXIT_PROBLEMS
    pack = load_pack(destination)
    print(printable(f"added {summary(pack)}"))
    return EXIT_OK


def list_command(args: argparse.Namespace) -> int:
    from cards.discover import discover_packs
    from cards.paths import Home

    home = Home.resolve(args.home)
    packs, errors = discover_packs(home, _known_labs())
    for pack in packs:
        print(printable(summary(pack)))
    if not packs:
        print(printable(f"no packs found (your packs folder is {home.packs_dir})"))
    for error in errors:
        _report(error.problems)
    return EXIT_PROBLEMS if errors else EXIT_OK
