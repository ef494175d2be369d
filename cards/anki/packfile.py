"""Write a pack TOML file that `cardlab pack check` accepts, from imported cards (Anki or CSV)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from cards.files import write_atomic

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_NOT_TAG = re.compile(r"[^\w:/.+-]+")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\f": "\\f", "\r": "\\r"}


@dataclass
class NewCard:
    """One `[[cards]]` entry."""

    id: str
    front: str
    back: str
    type: str = "basic"
    tags: tuple[str, ...] = ()
    lab: str | None = None


@dataclass
class NewPack:
    id: str
    title: str
    description: str
    authors: tuple[str, ...] = ("imported",)
    version: str = "1.0.0"
    cards: list[NewCard] = field(default_factory=list)


def slug(text: str, fallback_seed: str = "") -> str:
    """A pack or card id from free text: "Parent::Child 2" -> "parent-child-2" (accents dropped)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    found = _NOT_SLUG.sub("-", ascii_text).strip("-")
    return found or "deck-" + hashlib.sha256((fallback_seed or text).encode()).hexdigest()[:8]


def clean_tag(tag: str) -> str:
    """A tag cardlab accepts (a word of letters, digits and : / . + -), or "" when nothing is left."""
    return _NOT_TAG.sub("-", tag).strip("-:/.+")


def toml_string(text: str) -> str:
    """A TOML basic string; multi-line ("\"\"\"") when the text has newlines, so packs stay readable."""
    escaped = "".join(_ESCAPES.get(char) or _control(char) for char in text)
    if "\n" not in text:
        return f'"{escaped}"'
    return f'"""\n{escaped}"""'


def _control(char: str) -> str:
    if char in "\n\t" or not (ord(char) < 32 or ord(char) == 127):
        return char
    return f"\\u{ord(char):04x}"


def render_pack(pack: NewPack) -> str:
    lines = [
        "[pack]",
        f"id = {toml_string(pack.id)}",
        f"title = {toml_string(pack.title)}",
        f"version = {toml_string(pack.version)}",
        "authors = [" + ", ".join(toml_string(author) for author in pack.authors) + "]",
        f"description = {toml_string(pack.description)}",
        "format = 1",
    ]
    for card in pack.cards:
        lines += ["", "[[cards]]", f"id = {toml_string(card.id)}"]
        if card.type != "basic":
            lines.append(f"type = {toml_string(card.type)}")
        lines.append(f"front = {toml_string(card.front)}")
        if card.back or card.type == "basic":
            lines.append(f"back = {toml_string(card.back)}")
        if card.tags:
            lines.append("tags = [" + ", ".join(toml_string(tag) for tag in card.tags) + "]")
        if card.lab:
            lines.append(f"lab = {toml_string(card.lab)}")
    return "\n".join(lines) + "\n"


def write_pack(pack: NewPack, path: Path) -> bool:
    """Write the pack file atomically; False (and nothing written) when it already holds exactly this."""
    text = render_pack(pack)
    if path.is_file() and path.read_text(encoding="utf-8", errors="replace") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)
    return True
