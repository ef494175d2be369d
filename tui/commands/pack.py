"""`cardlab pack check|add|remove|list` (also spelled `cardlab packs ...`).

Output contract: summaries go to stdout; each problem is one `file:line[:column]: message` line on stderr.
Exit codes: 0 all packs valid, 1 some pack has problems, 2 usage error (e.g. a path that does not exist).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from cards.pack import Pack, PackError, Problem, duplicate_pack_message, expand_paths, load_pack, pack_id_line
from tui.commands import home_from_args

if TYPE_CHECKING:
    from cards.paths import Home
from tui.safe_text import printable

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
# How often `pack check --watch` looks for saves (stat polling, as the app does: see cards/watch.py).
WATCH_INTERVAL_S = 0.5


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
    check.add_argument(
        "--watch",
        action="store_true",
        help="check again every time a file is saved (or one is added to a folder); ctrl+c ends it",
    )
    check.set_defaults(handler=check_command)

    add = actions.add_parser(
        "add",
        help="validate a pack and copy (or link) it into your packs",
        description="Validate FILE and copy it into your packs folder as <pack id>.toml, so cardlab "
        "studies it; with --link, cardlab reads the pack (a file, or a folder of them) where it is, so "
        "its author's edits show at once. Refuses an invalid pack or a pack id that is already taken.",
    )
    add.add_argument("file", metavar="PATH", help="the pack .toml file (with --link: or a folder of them)")
    add.add_argument(
        "--replace",
        action="store_true",
        help="update your pack with the same id, copied or linked (review history is kept)",
    )
    add.add_argument(
        "--link", action="store_true", help="read the pack where it is instead of copying it (for authors)"
    )
    add.set_defaults(handler=add_command)

    remove = actions.add_parser(
        "remove",
        help="forget one of your packs (copied or linked); its review history is kept",
        description="Forget pack ID: delete its copy in your packs folder, or forget its link. Review "
        "history is never deleted, so adding the pack back brings it back. Bundled packs cannot be removed.",
    )
    remove.add_argument("pack_id", metavar="ID", help="the id of one of your packs")
    remove.set_defaults(handler=remove_command)

    listing = actions.add_parser(
        "list",
        help="list the bundled packs and yours",
        description="List every pack cardlab finds (bundled, then your packs folder) and report broken ones.",
    )
    listing.set_defaults(handler=list_command)

    trust = actions.add_parser(
        "trust",
        help="trust the labs of one of your packs (their code runs as you)",
        description="Show the files of the labs pack ID ships, with their sha256, and record that you trust "
        "them. A changed file asks for trust again.",
    )
    trust.add_argument("pack_id", metavar="ID", help="the id of one of your packs")
    trust.set_defaults(handler=trust_command)

    new = actions.add_parser(
        "new",
        help="start a pack of your own, with a lab",
        description="Write DIR/<ID>.toml (a basic and a cloze card) and DIR/labs/<ID>-line/, a lab that trains "
        "a tiny model. Put DIR's contents in your packs folder, trust it, and study.",
    )
    new.add_argument("folder", metavar="DIR", help="the folder to write the pack into")
    new.add_argument("--id", dest="pack_id", help="the pack id (default: the folder's name)")
    new.set_defaults(handler=new_command)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def _known_labs() -> Collection[str]:
    """Lab ids to validate `lab` keys against (the registry is torch-free, so this stays cheap)."""
    from labs.registry import known_lab_ids

    return known_lab_ids()


def summary(pack: Pack) -> str:
    notes = len({card.note_id for card in pack.cards})
    count = _count(len(pack.cards), "card") + (
        f" from {_count(notes, 'note')}" if notes != len(pack.cards) else ""
    )
    tags = ", ".join(pack.tags) or "none"
    return f"{pack.id} {pack.version}: {count}, tags: {tags} ({pack.path})"


def _count(count: int, noun: str) -> str:
    """ "1 card", "2 cards"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


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
    if args.watch:
        return _watch(args.paths, home_from_args(args))
    return _check_files(files, home_from_args(args))


def _watch(paths: list[str], home: Home) -> int:
    """Check, then check again after every save, until ctrl+c (which the CLI turns into exit 130)."""
    import time

    from cards.watch import FileWatch

    files = expand_paths(paths)
    watch = FileWatch(files)
    _check_files(files, home)
    print("watching for saves (ctrl+c to stop)", file=sys.stderr, flush=True)
    while True:
        time.sleep(WATCH_INTERVAL_S)
        current = expand_paths(paths)
        watch.add(current)
        if watch.changed() or current != files:  # a file saved, or one added to or gone from a folder
            files = current
            print(printable(f"--- {time.strftime('%H:%M:%S')} saved: checking again"), flush=True)
            _check_files(files, home)
            sys.stdout.flush()
            sys.stderr.flush()


def _check_files(files: list[Path], home: Home) -> int:
    pack_labs, problems = _labs_of_packs(files)
    known_labs = set(_known_labs()) | pack_labs
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
        _report_renames(home, pack)
    _report(problems)
    return EXIT_PROBLEMS if problems else EXIT_OK


def _report_renames(home: Home, pack: Pack) -> None:
    """Warn about likely renames that would orphan review history (no exit status: the pack is valid)."""
    from cards.renames import rename_hints
    from cards.store import Store, StoreError

    if not home.store_path.exists():
        return
    try:
        with Store.open(home.store_path) as store:
            hints = rename_hints(store, pack)
    except StoreError:
        return  # a damaged store is `cardlab doctor`'s business, not the pack check's
    for hint in hints:
        where = f"{hint.file}:{hint.line}"
        print(printable(f"{where}: warning: {hint.message}"), file=sys.stderr)


def _labs_of_packs(files: list[Path]) -> tuple[set[str], list[Problem]]:
    """The ids of the labs the packs ship (read torch-free) and the problems in them: lab.toml errors
    (file:line) and ids already used by a built-in lab or an earlier pack."""
    from labs.labdir import LabFormatError
    from labs.packlabs import duplicate_lab_problem, pack_lab_ids_line, read_pack_labs

    owners = {lab_id: "a built-in lab" for lab_id in _known_labs()}
    problems: list[Problem] = []
    for file in files:
        pack_id, folders = pack_lab_ids_line(file)
        if not folders:
            continue
        try:
            labs = read_pack_labs(pack_id, file, folders)
        except LabFormatError as error:
            problems.extend(error.problems)
            continue
        for lab in labs:
            if lab.info.id in owners:
                problems.append(duplicate_lab_problem(lab, owners[lab.info.id]))
            else:
                owners[lab.info.id] = f'the pack "{pack_id}" ({file})'
    return set(owners), problems


def new_command(args: argparse.Namespace) -> int:
    from labs.errors import LabError
    from labs.scaffold import new_pack

    try:
        pack = new_pack(Path(args.folder), args.pack_id)
    except LabError as error:
        return _usage_error("pack new", str(error))
    print(f"wrote {pack} and its lab in {pack.parent / 'labs'}; check it with: cardlab pack check {pack}")
    packs_dir = home_from_args(args).packs_dir
    if packs_dir.resolve() not in (pack.parent.resolve(), pack.parent.parent.resolve()):
        print(
            f"to study it and run its lab: cardlab pack add --link {pack.parent} "
            f"(or put the folder in your packs folder {packs_dir})"
        )
    return EXIT_OK


def trust_command(args: argparse.Namespace) -> int:
    from cards.paths import Home
    from labs.packlabs import pack_content, trust_pack

    home = Home.resolve(args.home)
    content = pack_content(home, args.pack_id)
    if content is None:
        return _usage_error("pack trust", f"none of your packs is {args.pack_id!r} with labs")
    where = printable(content.pack_path, one_line=True)
    print(f"pack {printable(args.pack_id, one_line=True)} ({where}): its labs' code will run as you. Files:")
    for path, sha in content.digests.items():
        print(f"  {sha}  {printable(path, one_line=True)}")
    for path in content.skipped:
        print(f"  not copied, never run: {printable(path, one_line=True)}")
    trust_pack(home, content)  # these bytes, as listed: later changes to the files ask again
    print(f"trusted {args.pack_id}")
    return EXIT_OK


def add_command(args: argparse.Namespace) -> int:
    from cards.discover import add_pack, discover_packs, link_pack
    from cards.paths import Home

    if args.link:
        if not Path(args.file).exists():
            return _usage_error("pack add", f"no such file or folder: {args.file}")
    elif not Path(args.file).is_file():
        return _usage_error("pack add", f"no such file: {args.file}")
    from labs.packlabs import pack_lab_ids_line

    if not args.link and pack_lab_ids_line(Path(args.file))[1]:
        return _usage_error(
            "pack add",
            "this pack ships labs: link it with --link, or copy its file and lab folders into your packs folder",
        )
    home = Home.resolve(args.home)
    try:
        if args.link:
            known_labs = _linkable_labs(Path(args.file))
            packs, replaced = link_pack(home, args.file, known_labs, replace=args.replace)
        else:
            taken = {pack.id for pack in discover_packs(home)[0]}
            packs = [load_pack(add_pack(home, args.file, _known_labs(), replace=args.replace))]
            replaced = packs[0].id in taken
    except PackError as error:
        _report(error.problems)
        return EXIT_PROBLEMS
    verb = ("replaced" if replaced else "added") + (" (linked)" if args.link else "")
    for pack in packs:
        print(printable(f"{verb} {summary(pack)}"))
        _report_renames(home, pack)
    return EXIT_OK


def _linkable_labs(target: Path) -> set[str]:
    """The lab ids a linked pack's cards may name: the installed labs and those it ships; PackError
    for problems in its labs' lab.toml files."""
    from cards.links import Link, linked_pack_files

    pack_labs, problems = _labs_of_packs(linked_pack_files([Link(target.resolve(), ())]))
    if problems:
        raise PackError(problems)
    return set(_known_labs()) | pack_labs


def remove_command(args: argparse.Namespace) -> int:
    from cards.discover import PackRemoveError, remove_pack

    try:
        done = remove_pack(home_from_args(args), args.pack_id)
    except PackRemoveError as error:
        print(printable(f"cardlab pack remove: {error}"), file=sys.stderr)
        return EXIT_PROBLEMS
    print(printable(done))
    return EXIT_OK


def list_command(args: argparse.Namespace) -> int:
    from cards.discover import discover_packs
    from cards.paths import Home
    from labs.packlabs import register_home_pack_labs

    home = Home.resolve(args.home)
    _report(register_home_pack_labs(home))
    packs, errors = discover_packs(home, _known_labs())
    for pack in packs:
        print(printable(summary(pack)))
    if not packs:
        print(printable(f"no packs found (your packs folder is {home.packs_dir})"))
    for error in errors:
        _report(error.problems)
    return EXIT_PROBLEMS if errors else EXIT_OK
