"""Anki notes -> cardlab packs: one pack per deck, cards by note type, ids from the note GUID."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Collection as Names
from dataclasses import dataclass, field

from cards import cloze
from cards.anki.collection import AnkiCard, Collection, Note, NoteType
from cards.anki.html import field_to_markdown
from cards.anki.packfile import NewCard, NewPack, clean_tag, slug

MEDIA_FOLDER = "media"  # next to the pack file
# Anki's stock note types; Anki adds "-abc12" to a copy's name, genanki and cardlab's export a suffix.
_STOCK = re.compile(
    r"(?P<kind>Basic|Basic \(and reversed card\)|Basic \(optional reversed card\)|Basic \(type in the answer\)"
    r"|Cloze)(?: \((?:genanki|cardlab)\))?(?:-[0-9a-zA-Z]{5})?"
)
_TEMPLATE_REF = re.compile(r"\{\{([^{}]+)\}\}")
# GUIDs of notes cardlab exported: "cardlab:<pack id>:<note id>", so a round trip keeps the ids.
_CARDLAB_GUID = re.compile(r"cardlab:([a-z0-9]+(?:-[a-z0-9]+)*):([a-z0-9]+(?:-[a-z0-9]+)*)")
LAB_TAG = "lab::"


@dataclass
class ImportedPack:
    pack: NewPack
    deck: str
    card_of: dict[int, str] = field(default_factory=dict)  # Anki card id -> cardlab card id
    suspended: set[str] = field(default_factory=set)
    buried: set[str] = field(default_factory=set)
    media: set[str] = field(default_factory=set)
    notes: int = 0
    note_ids: set[str] = field(default_factory=set)


@dataclass
class Conversion:
    packs: list[ImportedPack]
    unknown_types: Counter  # note type name -> notes mapped first field / rest
    skipped_notes: Counter  # reason -> notes
    plain_text_notes: int = 0  # notes whose HTML could not be converted: their text is kept


def note_id_for(guid: str) -> str:
    """A stable card id from an Anki GUID (GUIDs are case-sensitive base91, so they are hashed)."""
    found = _CARDLAB_GUID.fullmatch(guid)
    return found.group(2) if found else hashlib.sha256(guid.encode()).hexdigest()[:16]


def exported_pack_id(guid: str) -> str | None:
    found = _CARDLAB_GUID.fullmatch(guid)
    return found.group(1) if found else None


def convert(collection: Collection, media: Names[str], known_labs: Names[str] = ()) -> Conversion:
    cards_by_note: dict[int, list[AnkiCard]] = {}
    for card in collection.cards:
        cards_by_note.setdefault(card.note_id, []).append(card)
    result = Conversion([], Counter(), Counter())
    packs: dict[int, ImportedPack] = {}
    for note in collection.notes.values():
        note_cards = cards_by_note.get(note.id)
        notetype = collection.notetypes.get(note.notetype_id)
        if not note_cards or notetype is None:
            result.skipped_notes["no cards or no note type"] += 1
            continue
        deck_id = note_cards[0].deck_id  # a note's cards can sit in several decks: the first card's decides
        target = packs.get(deck_id)
        if target is None:
            target = packs[deck_id] = _new_pack(collection.decks.get(deck_id, f"deck {deck_id}"), note)
        _add_note(target, note, notetype, note_cards, media, known_labs, result)
    result.packs = [imported for imported in packs.values() if imported.pack.cards]
    _unique_pack_ids(result.packs)
    return result


MAX_PACK_ID = 200  # the pack's folder and `<id>.toml` must fit a file name (255 bytes)


def _new_pack(deck: str, first_note: Note) -> ImportedPack:
    pack_id = exported_pack_id(first_note.guid) or deck_pack_id(deck)
    title = deck if deck.strip() else f"Untitled Anki deck ({pack_id})"
    description = f'Anki deck "{deck}", imported with cardlab import anki.'
    return ImportedPack(NewPack(pack_id, title, description, authors=("Anki import",)), deck)


def deck_pack_id(deck: str) -> str:
    """A pack id, safe as a file name, from any deck name: its slug, shortened with a hash past MAX_PACK_ID."""
    found = slug(deck)
    if len(found) <= MAX_PACK_ID:
        return found
    digest = hashlib.sha256(deck.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{found[: MAX_PACK_ID - 9].rstrip('-')}-{digest}"


def _unique_pack_ids(packs: list[ImportedPack]) -> None:
    seen: set[str] = set()
    for imported in packs:
        base, number = imported.pack.id, 1
        while imported.pack.id in seen:
            number += 1
            imported.pack.id = f"{base}-{number}"
        seen.add(imported.pack.id)


def _add_note(
    target: ImportedPack,
    note: Note,
    notetype: NoteType,
    note_cards: list[AnkiCard],
    media: Names[str],
    known_labs: Names[str],
    result: Conversion,
) -> None:
    base_id = _unique_note_id(target, note_id_for(note.guid))
    tags, lab = _tags_and_lab(note.tags, known_labs)
    fields = []
    converted = True
    for value in note.fields:
        text, referenced, whole = field_to_markdown(value, media, MEDIA_FOLDER)
        fields.append(text)
        target.media.update(referenced)
        converted = converted and whole
    result.plain_text_notes += not converted
    stock = _STOCK.fullmatch(notetype.name)
    if stock and stock.group("kind") == "Cloze" and notetype.cloze:
        made = _cloze_cards(base_id, fields, note_cards, tags, lab, target, result)
    elif stock and not notetype.cloze:
        made = _template_cards(base_id, notetype, fields, note_cards, tags, lab, target, result)
    else:
        result.unknown_types[notetype.name] += 1
        if notetype.cloze:  # e.g. a renamed cloze type: its first field holds the deletions
            made = _cloze_cards(base_id, fields, note_cards, tags, lab, target, result)
        else:
            made = _first_field_card(base_id, fields, note_cards, tags, lab, target, result)
    target.notes += made > 0


def _unique_note_id(target: ImportedPack, wanted: str) -> str:
    found, number = wanted, 1
    while found in target.note_ids:
        number += 1
        found = f"{wanted}-{number}"
    target.note_ids.add(found)
    return found


def _tags_and_lab(tags: tuple[str, ...], known_labs: Names[str]) -> tuple[tuple[str, ...], str | None]:
    lab = next(
        (
            tag[len(LAB_TAG) :]
            for tag in tags
            if tag.startswith(LAB_TAG) and tag[len(LAB_TAG) :] in known_labs
        ),
        None,
    )
    kept = (clean_tag(tag) for tag in tags if lab is None or tag != LAB_TAG + lab)
    return tuple(dict.fromkeys(tag for tag in kept if tag)), lab


def _flag(target: ImportedPack, card: AnkiCard, card_id: str) -> None:
    target.card_of[card.id] = card_id
    if card.queue == -1:
        target.suspended.add(card_id)
    elif card.queue in (-2, -3):
        target.buried.add(card_id)


def _cloze_cards(base_id, fields, note_cards, tags, lab, target, result) -> int:  # noqa: ANN001
    text = fields[0] if fields else ""
    deletions, issues = cloze.parse(text)
    if issues or not deletions:
        result.skipped_notes["cloze text cardlab cannot read (no deletion, or nested or malformed ones)"] += 1
        return 0
    back = "\n\n".join(value for value in fields[1:] if value)
    target.pack.cards.append(NewCard(base_id, text, back, "cloze", tags, lab))
    numbers = {deletion.number for deletion in deletions}
    for card in note_cards:
        if card.ord + 1 in numbers:
            _flag(target, card, f"{base_id}#c{card.ord + 1}")
    return 1


def _template_cards(base_id, notetype, fields, note_cards, tags, lab, target, result) -> int:  # noqa: ANN001
    by_name = dict(zip(notetype.fields, fields))
    made = 0
    for card in note_cards:
        if card.ord >= len(notetype.templates):
            continue
        template = notetype.templates[card.ord]
        question = _template_fields(template.question, typed=False)
        answer = [name for name in _template_fields(template.answer, typed=True) if name not in question]
        front = _join(by_name, question)
        back = _join(by_name, answer)
        if not _basic_ok(front, back, result):
            continue
        card_id = base_id if card.ord == 0 else f"{base_id}-card{card.ord + 1}"
        target.pack.cards.append(NewCard(card_id, front, back, "basic", tags, lab))
        _flag(target, card, card_id)
        made += 1
    return made


def _first_field_card(base_id, fields, note_cards, tags, lab, target, result) -> int:  # noqa: ANN001
    front = fields[0] if fields else ""
    back = "\n\n".join(value for value in fields[1:] if value)
    if not _basic_ok(front, back, result):
        return 0
    target.pack.cards.append(NewCard(base_id, front, back, "basic", tags, lab))
    _flag(target, min(note_cards, key=lambda card: card.ord), base_id)
    return 1


def _basic_ok(front: str, back: str, result: Conversion) -> bool:
    """Whether a basic card can be written: both sides, and no `{{c1::` on the front (a pack would
    read it as a cloze card marked basic)."""
    if not front or not back:
        result.skipped_notes["a card with an empty front or back"] += 1
        return False
    if cloze.has_deletion_markers(front):
        result.skipped_notes["a basic card whose front holds cloze deletions"] += 1
        return False
    return True


def _template_fields(template: str, typed: bool) -> list[str]:
    """The fields a card template shows, in order: `{{Front}}`, `{{text:Front}}`; not `{{FrontSide}}`,
    conditionals (`{{#Add Reverse}}`) or, on the question side, `{{type:Back}}` (an input box)."""
    names = []
    for reference in _TEMPLATE_REF.findall(template):
        reference = reference.strip()
        if not reference or reference[0] in "#/^!" or reference == "FrontSide":
            continue
        *filters, name = reference.split(":")
        if "type" in filters and not typed:
            continue
        if name.strip() and name.strip() not in names:
            names.append(name.strip())
    return names


def _join(by_name: dict[str, str], names: list[str]) -> str:
    return "\n\n".join(by_name[name] for name in names if by_name.get(name))
