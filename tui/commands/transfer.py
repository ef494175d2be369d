"""`cardlab import anki|csv` and `cardlab export anki|csv`: decks in and out of Anki."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Collection
from pathlib import Path

from tui.commands import home_from_args
from tui.safe_text import printable

EXIT_FAILED, EXIT_USAGE = 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    importing = subparsers.add_parser(
        "import", help="import Anki decks (.apkg, .colpkg) or a CSV file as packs, with their reviews"
    )
    importing.set_defaults(handler=lambda args: importing.print_help(sys.stderr) or EXIT_USAGE)
    kinds = importing.add_subparsers(dest="import_kind", metavar="KIND")
    anki = kinds.add_parser(
        "anki",
        help="an Anki package: every deck becomes a pack, its review history comes too",
        description="Import FILE.apkg or FILE.colpkg: one pack per deck (in a folder of its own, media "
        "beside it), review history into your store. Importing the same file again updates the packs and "
        "adds only new reviews.",
    )
    anki.add_argument("file", metavar="FILE", help="an .apkg or .colpkg file")
    _into_option(anki)
    anki.set_defaults(handler=import_anki_command)
    csv = kinds.add_parser(
        "csv",
        help="a CSV file: Anki's notes export (#separator: headers) or front,back,tags",
        description="Import FILE as one pack named after the file.",
    )
    csv.add_argument("file", metavar="FILE", help="a .csv or .txt file")
    _into_option(csv)
    csv.set_defaults(handler=import_csv_command)

    exporting = subparsers.add_parser("export", help="export packs to Anki (.apkg) or CSV")
    exporting.set_defaults(handler=lambda args: exporting.print_help(sys.stderr) or EXIT_USAGE)
    formats = exporting.add_subparsers(dest="export_kind", metavar="KIND")
    for name, what in (("anki", "an .apkg Anki imports (one deck per pack)"), ("csv", "Anki's notes CSV")):
        parser = formats.add_parser(name, help=f"write {what}", description=f"Write the packs as {what}.")
        parser.add_argument("packs", nargs="+", metavar="PACK", help="a pack id, or a path to a .toml file")
        parser.add_argument("-o", "--output", required=True, metavar="FILE", help="the file to write")
        parser.add_argument("--home", metavar="DIR", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        parser.set_defaults(handler=export_command, export_format=name)


def _into_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--into", metavar="DIR", help="write the packs under DIR instead of your packs folder"
    )
    parser.add_argument("--home", metavar="DIR", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _fail(message: str) -> int:
    print(f"cardlab: {printable(message, one_line=True)}", file=sys.stderr)
    return EXIT_FAILED


def _known_labs() -> Collection[str]:
    from labs.registry import known_lab_ids

    return known_lab_ids()


def _taken_ids(home) -> dict:  # noqa: ANN001
    """Pack id -> file of every pack cardlab finds now (an import must not take another pack's id)."""
    from cards.discover import discover_packs

    packs, _ = discover_packs(home)
    return {pack.id: pack.path for pack in packs}


def import_anki_command(args: argparse.Namespace) -> int:
    from cards.anki import AnkiError
    from cards.anki.importer import import_anki
    from cards.config import ConfigError, load_config
    from cards.store import Store, StoreError
    from cards.study_day import utc_now

    home = home_from_args(args)
    destination = Path(args.into) if args.into else home.packs_dir
    try:
        config = load_config(home)
        with Store.open(home.store_path) as store:
            summary = import_anki(
                args.file, destination, store, config, utc_now(), _known_labs(), _taken_ids(home)
            )
    except (AnkiError, ConfigError, StoreError) as err:
        return _fail(str(err))
    print_summary(summary)
    return 0


def import_csv_command(args: argparse.Namespace) -> int:
    from cards.anki import AnkiError
    from cards.anki.csvfile import read_csv
    from cards.anki.importer import ImportSummary, write_new_pack

    home = home_from_args(args)
    destination = Path(args.into) if args.into else home.packs_dir
    summary = ImportSummary()
    try:
        new = read_csv(args.file, _known_labs())
        write_new_pack(new, destination, _known_labs(), _taken_ids(home), summary)
    except AnkiError as err:
        return _fail(str(err))
    summary.notes = len(new.cards)
    print_summary(summary)
    return 0


def print_summary(summary) -> None:  # noqa: ANN001
    for pack in summary.packs:
        state = "written" if pack.changed else "unchanged"
        print(printable(f"{pack.id}: {_count(pack.cards, 'card')}, {state} ({pack.path})  [{pack.title}]"))
    skipped = sum(summary.reviews_skipped.values())
    print(
        f"{_count(len(summary.packs), 'deck')}, {_count(summary.notes, 'note')}, {_count(summary.cards, 'card')}, "
        f"{_count(summary.reviews_imported, 'review')} imported, {skipped} skipped, "
        f"{_count(summary.media, 'media file')} copied"
    )
    for reason, count in summary.reviews_skipped.most_common():
        print(printable(f"  skipped {_count(count, 'review row')}: {reason}"))
    for reason, count in summary.notes_skipped.most_common():
        print(printable(f"  skipped {_count(count, 'note')}: {reason}"))
    if getattr(summary, "notes_as_text", 0):  # (a CSV import's summary has none)
        print(
            f"  kept {_count(summary.notes_as_text, 'note')} as plain text: HTML too deeply nested to convert"
        )
    if summary.unknown_types:
        listed = ", ".join(
            f"{name} ({_count(count, 'note')})" for name, count in summary.unknown_types.most_common()
        )
        print(
            printable(
                f"warning: note types cardlab does not know, imported first field -> front, the rest -> back: {listed}"
            ),
            file=sys.stderr,
        )


def _labs_for_export(home, files: list[Path]) -> tuple[set[str], list]:  # noqa: ANN001
    """The lab ids the exported packs' cards may name: the built-in labs, the labs your packs ship (as
    `cardlab pack list` knows them) and those of the pack files named; and the problems in their lab.toml
    files. Only ids are read (torch-free, no trust: exporting runs no lab code); each becomes a tag."""
    from labs.labdir import LabFormatError
    from labs.packlabs import home_pack_labs, pack_lab_ids_line, read_pack_labs

    by_pack, problems = home_pack_labs(home)
    known = set(_known_labs()) | {lab.info.id for labs in by_pack.values() for lab in labs}
    for file in files:
        pack_id, folders = pack_lab_ids_line(file)
        if not folders:
            continue
        try:
            known |= {lab.info.id for lab in read_pack_labs(pack_id, file, folders)}
        except LabFormatError as error:
            problems += error.problems
    return known, problems


def _no_pack(name: str, errors: list) -> int:  # noqa: ANN001
    """`name` is no pack that loads: why, when a pack file with that id does not load; else what to give."""
    from labs.packlabs import pack_lab_ids_line

    for error in errors:
        if any(pack_lab_ids_line(Path(problem.file))[0] == name for problem in error.problems):
            return _fail(f"pack {name!r} does not load: {error}")
    return _fail(f"no pack {name!r}: give a pack id (cardlab pack list) or a .toml file")


def export_command(args: argparse.Namespace) -> int:
    from cards.anki import AnkiError
    from cards.anki.csvfile import write_csv
    from cards.anki.export import export_anki
    from cards.discover import discover_packs
    from cards.pack import PackError, load_pack

    home = home_from_args(args)
    files = [Path(name) for name in args.packs if Path(name).is_file()]
    known_labs, lab_problems = _labs_for_export(home, files)
    found, errors = discover_packs(home, known_labs)
    by_id = {pack.id: pack for pack in found}
    packs = []
    try:
        for name in args.packs:
            if name in by_id:
                packs.append(by_id[name])
            elif Path(name).is_file():
                packs.append(load_pack(name, known_labs))
            else:
                return _no_pack(name, errors)
        if args.export_format == "anki":
            notes, media = export_anki(packs, args.output)
            print(
                printable(
                    f"wrote {args.output}: {_count(len(packs), 'deck')}, {_count(notes, 'note')}, "
                    f"{_count(media, 'media file')}"
                )
            )
        else:
            notes = write_csv(packs, args.output)
            print(printable(f"wrote {args.output}: {_count(notes, 'note')}"))
    except PackError as err:
        for problem in lab_problems:  # a lab.toml that does not read is why its cards name an unknown lab
            print(printable(problem), file=sys.stderr)
        return _fail(str(err))
    except AnkiError as err:
        return _fail(str(err))
    return 0


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
