"""Read the parts of an Anki collection (SQLite) that become packs and reviews.

Two schemas: legacy (version 11, note types and decks as JSON in the `col` row) and modern (schema 15+,
`notetypes`, `fields`, `templates` and `decks` tables with protobuf configs; deck names separated by
\\x1f instead of "::"). Cards in a filtered deck belong to their original deck (`odid`).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from cards.anki import AnkiError
from cards.anki.protobuf import fields as proto_fields
from cards.anki.protobuf import first_int, first_text

FIELD_SEPARATOR = "\x1f"
KIND_CLOZE = 1


@dataclass(frozen=True)
class Template:
    name: str
    question: str  # the front template, e.g. "{{Front}}"
    answer: str


@dataclass(frozen=True)
class NoteType:
    id: int
    name: str
    cloze: bool
    fields: tuple[str, ...]
    templates: tuple[Template, ...]


@dataclass(frozen=True)
class Note:
    id: int
    guid: str
    notetype_id: int
    tags: tuple[str, ...]
    fields: tuple[str, ...]


@dataclass(frozen=True)
class AnkiCard:
    id: int
    note_id: int
    deck_id: int  # the home deck (the original deck of a card now in a filtered deck)
    ord: int  # template index (cloze: deletion number - 1)
    queue: int  # -1 suspended, -2/-3 buried, 0 new, 1/3 learning, 2 review


@dataclass(frozen=True)
class Review:
    id: int  # the time of the review, ms since the epoch
    card_id: int
    ease: int  # the button: 1 Again .. 4 Easy; 0 for manual changes
    interval: int
    factor: int  # ease factor; 0 on cram reviews of a filtered deck that does not reschedule
    time_ms: int
    kind: int  # 0 learn, 1 review, 2 relearn, 3 filtered, 4 manual, 5 rescheduled


@dataclass(frozen=True)
class Collection:
    decks: dict[int, str]  # id -> "Parent::Child"
    notetypes: dict[int, NoteType]
    notes: dict[int, Note]
    cards: tuple[AnkiCard, ...]
    reviews: tuple[Review, ...]


def read_collection(database: sqlite3.Connection, origin: str) -> Collection:
    """Everything an import needs, or AnkiError naming `origin` when the tables are not Anki's."""
    try:
        modern = _has_table(database, "notetypes")
        decks = _modern_decks(database) if modern else _legacy_decks(database)
        notetypes = _modern_notetypes(database) if modern else _legacy_notetypes(database)
        return Collection(decks, notetypes, _notes(database), _cards(database), _reviews(database))
    # AttributeError: JSON of the wrong shape (`decks` a list, `models` a number); RecursionError: nested
    # deeper than the JSON reader goes.
    except (sqlite3.DatabaseError, KeyError, TypeError, ValueError, AttributeError, RecursionError) as err:
        raise AnkiError(
            f"{origin}: the collection inside is corrupt or not an Anki collection ({err})"
        ) from None


def _has_table(database: sqlite3.Connection, name: str) -> bool:
    query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    return database.execute(query, (name,)).fetchone() is not None


def _legacy_decks(database: sqlite3.Connection) -> dict[int, str]:
    (raw,) = database.execute("SELECT decks FROM col").fetchone()
    return {int(deck["id"]): str(deck["name"]) for deck in json.loads(raw).values()}


def _modern_decks(database: sqlite3.Connection) -> dict[int, str]:
    rows = database.execute("SELECT id, name FROM decks").fetchall()
    return {int(deck_id): name.replace(FIELD_SEPARATOR, "::") for deck_id, name in rows}


def _legacy_notetypes(database: sqlite3.Connection) -> dict[int, NoteType]:
    (raw,) = database.execute("SELECT models FROM col").fetchone()
    found = {}
    for model in json.loads(raw).values():
        names = tuple(field["name"] for field in sorted(model["flds"], key=lambda field: field["ord"]))
        templates = tuple(
            Template(template["name"], template["qfmt"], template["afmt"])
            for template in sorted(model["tmpls"], key=lambda template: template["ord"])
        )
        found[int(model["id"])] = NoteType(
            int(model["id"]), str(model["name"]), model.get("type") == KIND_CLOZE, names, templates
        )
    return found


def _modern_notetypes(database: sqlite3.Connection) -> dict[int, NoteType]:
    field_names: dict[int, list[str]] = {}
    for notetype_id, name in database.execute("SELECT ntid, name FROM fields ORDER BY ntid, ord"):
        field_names.setdefault(notetype_id, []).append(name)
    templates: dict[int, list[Template]] = {}
    for notetype_id, name, config in database.execute(
        "SELECT ntid, name, config FROM templates ORDER BY ntid, ord"
    ):
        message = proto_fields(config)  # Template.Config: q_format = 1, a_format = 2
        templates.setdefault(notetype_id, []).append(
            Template(name, first_text(message, 1), first_text(message, 2))
        )
    found = {}
    for notetype_id, name, config in database.execute("SELECT id, name, config FROM notetypes"):
        cloze = first_int(proto_fields(config), 1) == KIND_CLOZE  # Notetype.Config.kind = 1
        found[notetype_id] = NoteType(
            notetype_id,
            name,
            cloze,
            tuple(field_names.get(notetype_id, ())),
            tuple(templates.get(notetype_id, ())),
        )
    return found


def _notes(database: sqlite3.Connection) -> dict[int, Note]:
    rows = database.execute("SELECT id, guid, mid, tags, flds FROM notes ORDER BY id")
    return {
        note_id: Note(
            note_id, str(guid), notetype_id, tuple(tags.split()), tuple(flds.split(FIELD_SEPARATOR))
        )
        for note_id, guid, notetype_id, tags, flds in rows
    }


def _cards(database: sqlite3.Connection) -> tuple[AnkiCard, ...]:
    rows = database.execute(
        "SELECT id, nid, CASE WHEN odid != 0 THEN odid ELSE did END, ord, queue FROM cards ORDER BY nid, ord"
    )
    return tuple(AnkiCard(*row) for row in rows)


def _reviews(database: sqlite3.Connection) -> tuple[Review, ...]:
    rows = database.execute("SELECT id, cid, ease, ivl, factor, time, type FROM revlog ORDER BY id")
    return tuple(Review(*row) for row in rows)
