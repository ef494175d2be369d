"""`cardlab export anki`: packs -> one `.apkg` (genanki), one Anki deck per pack.

Two note types with fixed ids, "Basic (cardlab)" and "Cloze (cardlab)", so every export lands in the
same note types. Markdown becomes HTML with markdown-it-py (CommonMark, raw HTML off: a `<unk>` written
in a card stays text, as cardlab shows it), code blocks kept as `<pre><code>`. Tags carry over, the
card's lab as the tag `lab::<id>`. Each note's GUID is `cardlab:<pack id>:<note id>`: exporting again
and importing into Anki updates the same notes, and `cardlab import anki` gets the ids back.
"""

from __future__ import annotations

import hashlib
import html
import re
from pathlib import Path
from urllib.parse import unquote

from cards.anki import AnkiError
from cards.anki.convert import LAB_TAG
from cards.pack import Card, Pack

BASIC_MODEL_ID = 1_607_392_319  # fixed forever: Anki matches note types by id
CLOZE_MODEL_ID = 1_607_392_320
_IMAGE_SRC = re.compile(r'(<img\s[^>]*?src=")([^"]+)(")')
_CSS = """.card { font-family: sans-serif; font-size: 20px; text-align: left; color: black; background: white; }
pre { background: #f4f4f4; padding: .5em; text-align: left; overflow-x: auto; }
code { font-family: monospace; }
.cloze { font-weight: bold; color: blue; }
"""


def guid_for(pack_id: str, note_id: str) -> str:
    return f"cardlab:{pack_id}:{note_id}"


def markdown_to_html(text: str) -> str:
    return _renderer().render(text).strip() if text else ""


_markdown = None


def _renderer():  # noqa: ANN202
    global _markdown
    if _markdown is None:
        from markdown_it import MarkdownIt

        _markdown = MarkdownIt("commonmark", {"html": False}).enable("table")
    return _markdown


def _models():  # noqa: ANN202
    import genanki

    basic = genanki.Model(
        BASIC_MODEL_ID,
        "Basic (cardlab)",
        fields=[{"name": "Front"}, {"name": "Back"}],
        templates=[{"name": "Card 1", "qfmt": "{{Front}}", "afmt": "{{FrontSide}}<hr id=answer>{{Back}}"}],
        css=_CSS,
    )
    cloze = genanki.Model(
        CLOZE_MODEL_ID,
        "Cloze (cardlab)",
        fields=[{"name": "Text"}, {"name": "Back Extra"}],
        templates=[{"name": "Cloze", "qfmt": "{{cloze:Text}}", "afmt": "{{cloze:Text}}<br>{{Back Extra}}"}],
        css=_CSS,
        model_type=genanki.Model.CLOZE,
    )
    return basic, cloze


def deck_id(pack_id: str) -> int:
    """A stable deck id in genanki's recommended range."""
    return (1 << 30) + int.from_bytes(hashlib.sha256(pack_id.encode()).digest()[:4], "big") % (1 << 30)


def export_anki(packs: list[Pack], out: str | Path) -> tuple[int, int]:
    """Write the `.apkg`; returns (notes, media files)."""
    import genanki

    basic, cloze = _models()
    decks, notes = [], 0
    media: dict[str, Path] = {}
    for pack in packs:
        deck = genanki.Deck(deck_id(pack.id), pack.title, description=pack.description)
        for card in _one_per_note(pack):
            fields = [_field(card.front, pack, media), _field(card.back, pack, media)]
            tags = [*card.tags, *([LAB_TAG + card.lab] if card.lab else [])]
            model = cloze if card.type == "cloze" else basic
            deck.add_note(
                genanki.Note(model=model, fields=fields, tags=tags, guid=guid_for(pack.id, card.note_id))
            )
            notes += 1
        decks.append(deck)
    package = genanki.Package(decks, media_files=sorted(str(path) for path in media.values()))
    from cards.files import write_atomic

    target = Path(out)
    scratch = target.with_name(f".{target.name}.partial")
    try:
        package.write_to_file(str(scratch))
        write_atomic(target, scratch.read_bytes())
    except OSError as err:
        raise AnkiError(f"cannot write {target}: {err.strerror or err}") from None
    finally:
        scratch.unlink(missing_ok=True)
    return notes, len(media)


def _one_per_note(pack: Pack) -> list[Card]:
    seen: dict[str, Card] = {}
    for card in pack.cards:
        seen.setdefault(card.note_id, card)
    return list(seen.values())


def _field(text: str, pack: Pack, media: dict[str, Path]) -> str:
    """The HTML of one field; images next to the pack go into the package under their file name."""
    rendered = markdown_to_html(text)

    def relink(match: re.Match) -> str:
        source = unquote(html.unescape(match.group(2)))  # markdown-it percent-encodes spaces
        path = (pack.path.parent / source).resolve()
        if "://" in source or not path.is_file():
            return match.group(0)
        media.setdefault(path.name, path)
        return f"{match.group(1)}{path.name}{match.group(3)}"

    return _IMAGE_SRC.sub(relink, rendered)
