"""Linked packs: pack files or folders cardlab reads where their author writes them (`pack add --link`).

The home records each link in `links.json` (in the data folder): the resolved path and the ids of the packs
found there when it was linked, so a link whose target has vanished can still be named in its problem
("... `cardlab pack remove capitals`"). The file is always rewritten whole and atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from cards.files import write_atomic
from cards.paths import Home

LINKS_FILE = "links.json"


class LinksError(Exception):
    """links.json cannot be read: `path` is the file, `reason` what is wrong and what to do."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class Link(NamedTuple):
    """One link as links.json records it."""

    path: Path  # a pack file, or a folder whose *.toml files are packs
    packs: tuple[str, ...]  # the pack ids found there when it was linked


def links_path(home: Home) -> Path:
    return home.data_dir / LINKS_FILE


def read_links(home: Home) -> list[Link]:
    """Every recorded link, in the order they were made (none when the file does not exist)."""
    path = links_path(home)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as error:
        raise LinksError(path, f"cannot read the list of linked packs: {error.strerror}") from None
    import json  # only with links to read: not on every start-up

    try:
        entries = json.loads(text)["links"]
        return [Link(Path(entry["path"]), tuple(entry["packs"])) for entry in entries]
    except (ValueError, KeyError, TypeError):
        reason = "the list of linked packs is damaged: delete it and link your packs again (`cardlab pack add --link PATH`)"
        raise LinksError(path, reason) from None


def write_links(home: Home, links: list[Link]) -> None:
    import json

    entries = [{"path": str(link.path), "packs": list(link.packs)} for link in links]
    home.data_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(links_path(home), json.dumps({"links": entries}, indent=2, ensure_ascii=False) + "\n")


def linked_pack_files(links: list[Link]) -> list[Path]:
    """The pack files the links point at: a file as linked, a folder's `*.toml` (not `lab.toml`) in name
    order. A vanished target gives nothing here; `missing_links` reports it."""
    files: list[Path] = []
    for link in links:
        if link.path.is_dir():
            found = sorted(p for p in link.path.glob("*.toml") if p.is_file() and p.name != "lab.toml")
            files.extend(found)
        elif link.path.is_file():
            files.append(link.path)
    return files


def missing_links(links: list[Link]) -> list[Link]:
    return [link for link in links if not link.path.exists()]


def missing_link_message(link: Link) -> str:
    names = ", ".join(link.packs) or "?"
    first = link.packs[0] if link.packs else "ID"
    return (
        f"the linked pack {names} is gone (moved or deleted): link it again with "
        f"`cardlab pack add --link NEW_PATH --replace`, or forget it with `cardlab pack remove {first}`"
    )
