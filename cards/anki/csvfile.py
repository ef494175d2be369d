"""CSV in and out: Anki's "Notes in Plain Text" export and a plain `front,back,tags` file.

Anki's export starts with header lines such as `#separator:tab`, `#html:true`, `#tags column:3`,
`#guid column:1`, `#notetype column:2`, `#deck column:3`; the remaining columns are the note's fields
(first = front, the rest = back; a Cloze note type keeps its deletions). A file without them is read
as `front,back[,tags]` (comma separated, an optional header row `front,back,tags`).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from cards import cloze
from cards.anki import AnkiError
from cards.anki.convert import LAB_TAG, note_id_for
from cards.anki.html import html_to_markdown
from cards.anki.packfile import NewCard, NewPack, clean_tag, slug
from cards.files import write_atomic
from cards.pack import Pack

MAX_CSV_BYTES = 256 << 20
_SEPARATORS = {"comma": ",", "semicolon": ";", "tab": "\t", "space": " ", "pipe": "|", "colon": ":"}


@dataclass
class _Header:
    separator: str | None = None
    html: bool = False
    columns: dict[str, int] = field(default_factory=dict)  # "tags"/"guid"/"notetype"/"deck" -> index


def _read_header(lines: list[str], path: Path) -> tuple[_Header, int]:
    header = _Header()
    count = 0
    for number, line in enumerate(lines, start=1):
        if not line.startswith("#") or ":" not in line:
            break
        key, _, value = line[1:].partition(":")
        key, value = key.strip().lower(), value.strip()
        if key == "separator":
            header.separator = _SEPARATORS.get(value.lower(), value if len(value) == 1 else None)
            if header.separator is None:
                raise AnkiError(
                    f"{path}:{number}: unknown separator {value!r}: use tab, comma, semicolon, ..."
                )
        elif key == "html":
            header.html = value.lower() == "true"
        elif key.endswith(" column"):
            try:
                header.columns[key.removesuffix(" column")] = int(value) - 1
            except ValueError:
                raise AnkiError(f"{path}:{number}: {key} must be a column number, not {value!r}") from None
        count = number
    return header, count


def read_csv(path: str | Path, known_labs: Collection[str] = ()) -> NewPack:
    """The pack a CSV file holds; AnkiError with file:line for a row that cannot be a card."""
    path = Path(path)
    text = _read_text(path)
    lines = text.splitlines()
    header, skip = _read_header(lines, path)
    body = "\n".join(lines[skip:])
    separator = header.separator or _sniff(body)
    rows = list(csv.reader(io.StringIO(body), delimiter=separator))
    plain = skip == 0
    pack = NewPack(
        slug(path.stem), path.stem, f"Imported from {path.name} with cardlab import csv.", ("CSV import",)
    )
    taken: set[str] = set()
    for offset, row in enumerate(rows):
        number = skip + offset + 1
        if not any(cell.strip() for cell in row):
            continue
        if plain and offset == 0 and [cell.strip().lower() for cell in row[:2]] == ["front", "back"]:
            continue
        pack.cards.append(_card(row, header, plain, path, number, taken, known_labs))
    if not pack.cards:
        raise AnkiError(f"{path}: no cards in the file")
    return pack


def _read_text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_CSV_BYTES:
            raise AnkiError(f"{path}: larger than {MAX_CSV_BYTES} bytes")
        return path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise AnkiError(f"{path}: no such file") from None
    except UnicodeDecodeError as err:
        raise AnkiError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None


def _sniff(body: str) -> str:
    first = body.split("\n", 1)[0]
    return "\t" if first.count("\t") > first.count(",") else ","


def _card(
    row: list[str],
    header: _Header,
    plain: bool,
    path: Path,
    number: int,
    taken: set[str],
    known_labs: Collection[str],
) -> NewCard:
    special = {index for index in header.columns.values()}
    fields = [cell for index, cell in enumerate(row) if index not in special]
    if plain:
        fields, tags_text = row[:2], row[2] if len(row) > 2 else ""
    else:
        tags_text = _column(row, header, "tags")
    texts = [html_to_markdown(value)[0] if header.html else value.strip() for value in fields]
    front, back = (texts[0] if texts else ""), "\n\n".join(text for text in texts[1:] if text)
    is_cloze = "cloze" in _column(row, header, "notetype").lower() or (
        not plain and bool(cloze.parse(front)[0]) and not back
    )
    if not front or (not back and not is_cloze):
        raise AnkiError(f"{path}:{number}: a card needs a front and a back (found {len(fields)} field(s))")
    guid = _column(row, header, "guid")
    card_id = _unique(note_id_for(guid) if guid else hashlib.sha256(front.encode()).hexdigest()[:16], taken)
    tags = tuple(dict.fromkeys(tag for tag in map(clean_tag, tags_text.split()) if tag))
    lab = next((tag[len(LAB_TAG) :] for tag in tags if tag[len(LAB_TAG) :] in known_labs), None)
    tags = tuple(tag for tag in tags if lab is None or tag != LAB_TAG + lab)
    return NewCard(card_id, front, back, "cloze" if is_cloze else "basic", tags, lab)


def _column(row: list[str], header: _Header, name: str) -> str:
    index = header.columns.get(name)
    return row[index].strip() if index is not None and index < len(row) else ""


def _unique(wanted: str, taken: set[str]) -> str:
    found, number = wanted, 1
    while found in taken:
        number += 1
        found = f"{wanted}-{number}"
    taken.add(found)
    return found


def write_csv(packs: list[Pack], path: str | Path) -> int:
    """Anki's notes export format (tab separated, HTML fields), which Anki and `cardlab import csv`
    read: guid, note type, deck, front, back, tags. Returns the number of notes written."""
    from cards.anki.export import guid_for, markdown_to_html

    out = io.StringIO()
    out.write(
        "#separator:tab\n#html:true\n#guid column:1\n#notetype column:2\n#deck column:3\n#tags column:6\n"
    )
    writer = csv.writer(out, delimiter="\t", lineterminator="\n")
    notes = 0
    for pack in packs:
        for card in _notes(pack):
            kind = "Cloze" if card.type == "cloze" else "Basic"
            tags = [*card.tags, *([LAB_TAG + card.lab] if card.lab else [])]
            writer.writerow(
                [
                    guid_for(pack.id, card.note_id),
                    kind,
                    pack.title,
                    markdown_to_html(card.front),
                    markdown_to_html(card.back),
                    " ".join(tags),
                ]
            )
            notes += 1
    write_atomic(path, out.getvalue())
    return notes


def _notes(pack: Pack):  # noqa: ANN202
    """One card per note: a cloze note's first card stands for the note."""
    seen: set[str] = set()
    for card in pack.cards:
        if card.note_id not in seen:
            seen.add(card.note_id)
            yield card
