"""Hostile Anki packages that once ended in an internal error: each is now imported or refused cleanly."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from cards.anki import AnkiError
from cards.anki.importer import import_anki
from cards.store import Store
from tests.cards.test_anki import CONFIG, FIXTURES, NOW, _zip


def legacy_with(tmp_path: Path, change: Callable[[sqlite3.Connection], None]) -> Path:
    """The legacy fixture with its collection changed by `change`."""
    with zipfile.ZipFile(FIXTURES / "legacy.apkg") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    database = tmp_path / "changed.sqlite"
    database.write_bytes(members["collection.anki21"])
    with sqlite3.connect(database) as connection:
        change(connection)
    members["collection.anki21"] = database.read_bytes()
    return _zip(tmp_path / "changed.apkg", members)


def run(tmp_path: Path, package: Path):  # noqa: ANN201
    return import_anki(package, tmp_path / "packs", Store.open(tmp_path / "store"), CONFIG, NOW)


def test_a_field_nested_too_deep_to_convert_keeps_its_text(tmp_path: Path) -> None:
    deep = "<div>" * 5000 + "deep &amp; down" + "</div>" * 5000

    def nest(connection: sqlite3.Connection) -> None:
        note_id, fields = connection.execute("SELECT id, flds FROM notes ORDER BY id LIMIT 1").fetchone()
        rest = fields.split("\x1f")[1:]
        connection.execute("UPDATE notes SET flds = ? WHERE id = ?", ("\x1f".join([deep, *rest]), note_id))

    summary = run(tmp_path, legacy_with(tmp_path, nest))
    assert (summary.notes, summary.cards, summary.notes_as_text) == (6, 9, 1)
    texts = "".join(path.read_text() for path in (tmp_path / "packs").glob("*/*.toml"))
    assert "deep & down" in texts


@pytest.mark.parametrize(("column", "value"), [("decks", "[]"), ("models", "42")])
def test_collection_json_of_the_wrong_shape_is_refused_cleanly(
    tmp_path: Path, column: str, value: str
) -> None:
    package = legacy_with(tmp_path, lambda c: c.execute(f"UPDATE col SET {column} = ?", (value,)))
    with pytest.raises(AnkiError, match="corrupt or not an Anki collection"):
        run(tmp_path, package)


@pytest.mark.parametrize("name", ["x" * 300, "", "   ", "::"])
def test_any_deck_name_gives_a_pack(tmp_path: Path, name: str) -> None:
    def rename(connection: sqlite3.Connection) -> None:
        decks = json.loads(connection.execute("SELECT decks FROM col").fetchone()[0])
        for deck in decks.values():
            deck["name"] = name if deck["name"] != "Default" else deck["name"]
        connection.execute("UPDATE col SET decks = ?", (json.dumps(decks),))

    summary = run(tmp_path, legacy_with(tmp_path, rename))
    assert summary.cards == 9 and summary.packs
    for pack in summary.packs:
        assert len(pack.path.name) <= 255 and pack.path.is_file() and pack.title.strip()
