"""`cardlab import anki|csv`: write the packs, copy the media, merge the review history."""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Collection as Names
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cards.anki import AnkiError
from cards.anki.collection import read_collection
from cards.anki.convert import MEDIA_FOLDER, ImportedPack, convert
from cards.anki.history import SKIP_NO_CARD, answers_from_revlog, merge_history
from cards.anki.package import Package
from cards.anki.packfile import NewPack, render_pack, write_pack
from cards.config import Config
from cards.files import write_atomic
from cards.pack import Pack, PackError, load_pack
from cards.store import Store


@dataclass
class WrittenPack:
    id: str
    title: str
    path: Path
    cards: int
    changed: bool


@dataclass
class ImportSummary:
    packs: list[WrittenPack] = field(default_factory=list)
    notes: int = 0
    cards: int = 0
    reviews_imported: int = 0
    reviews_skipped: Counter = field(default_factory=Counter)  # reason -> rows
    notes_skipped: Counter = field(default_factory=Counter)
    unknown_types: Counter = field(default_factory=Counter)  # note type -> notes
    notes_as_text: int = 0  # notes whose HTML could not be converted, imported as their text
    media: int = 0  # files copied (new or changed)


def pack_path(destination: Path, pack_id: str) -> Path:
    """Each pack in a folder of its own (media beside it), which the packs folder discovers."""
    return destination / pack_id / f"{pack_id}.toml"


def import_anki(
    source: str | Path,
    destination: Path,
    store: Store,
    config: Config,
    now: datetime,
    known_labs: Names[str] = (),
    taken: dict[str, Path] | None = None,
) -> ImportSummary:
    """Import every deck of the package at `source` into `destination` (one folder per pack) and its
    review history into `store`. `taken` maps pack ids already in use to their files: a deck whose id is
    taken by a different file is refused."""
    summary = ImportSummary()
    with Package(source) as package:
        collection = read_collection(package.database, str(source))
        conversion = convert(collection, package.media.keys(), known_labs)
        summary.unknown_types = conversion.unknown_types
        summary.notes_skipped = conversion.skipped_notes
        summary.notes_as_text = conversion.plain_text_notes
        packs = [(imported, pack_path(destination, imported.pack.id)) for imported in conversion.packs]
        _check_ids([(imported.pack.id, path) for imported, path in packs], taken or {})
        for imported, path in packs:
            pack = _write_validated(imported.pack, path, known_labs, summary)
            summary.media += _copy_media(package, imported, path.parent)
            answers = answers_from_revlog(collection.reviews, imported.card_of, summary.reviews_skipped)
            summary.reviews_imported += merge_history(
                store, pack, answers, config, now, imported.suspended, imported.buried
            )
            summary.notes += imported.notes
        imported_cards = {anki_id for imported in conversion.packs for anki_id in imported.card_of}
        unimported = sum(1 for review in collection.reviews if review.card_id not in imported_cards)
        if unimported:
            summary.reviews_skipped[SKIP_NO_CARD] += unimported
    return summary


def write_new_pack(
    new: NewPack, destination: Path, known_labs: Names[str], taken: dict[str, Path], summary: ImportSummary
) -> Pack:
    """Write one pack (CSV import) after the same checks as an Anki deck."""
    path = pack_path(destination, new.id)
    _check_ids([(new.id, path)], taken)
    return _write_validated(new, path, known_labs, summary)


def _check_ids(packs: list[tuple[str, Path]], taken: dict[str, Path]) -> None:
    for pack_id, path in packs:
        other = taken.get(pack_id)
        if other is not None and other.resolve() != path.resolve():
            raise AnkiError(
                f'pack id "{pack_id}" is already used by {other}: rename that deck (or file), or remove '
                "that pack, and import again"
            )


def _write_validated(new: NewPack, path: Path, known_labs: Names[str], summary: ImportSummary) -> Pack:
    """Check the pack as `pack check` would before it replaces anything, then write it atomically."""
    with tempfile.TemporaryDirectory(prefix="cardlab-import-") as scratch:
        trial = Path(scratch) / path.name
        trial.write_text(render_pack(new), encoding="utf-8")
        try:
            load_pack(trial, known_labs)
        except PackError as err:  # a conversion bug, never the user's: say what, not a traceback
            raise AnkiError(f"the pack made from deck {new.title!r} does not check: {err}") from None
    changed = write_pack(new, path)
    pack = load_pack(path, known_labs)
    summary.packs.append(WrittenPack(pack.id, pack.title, path, len(pack.cards), changed))
    summary.cards += len(pack.cards)
    return pack


def _copy_media(package: Package, imported: ImportedPack, folder: Path) -> int:
    copied = 0
    media_dir = folder / MEDIA_FOLDER
    for name in sorted(imported.media):
        data = package.read_media(name)
        target = media_dir / name
        if target.is_file() and target.read_bytes() == data:
            continue
        media_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(target, data)
        copied += 1
    return copied
