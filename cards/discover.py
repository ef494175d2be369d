"""Where packs come from: the ones bundled with cardlab and the user's packs folder."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import cards
from cards.files import write_atomic
from cards.links import (
    Link,
    LinksError,
    linked_pack_files,
    missing_link_message,
    missing_links,
    read_links,
    write_links,
)
from cards.pack import Pack, PackError, Problem, duplicate_pack_message, load_pack, load_packs, pack_id_line
from cards.paths import Home


def bundled_pack_paths() -> list[Path]:
    """The packs shipped inside the `cards` package (package data: found in editable and normal installs).

    Located from the package's own path rather than importlib.resources, which costs ~20 ms to import."""
    folder = Path(cards.__file__).parent / "packs"
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.glob("*.toml") if path.is_file())


def user_pack_paths(home: Home) -> list[Path]:
    """The user's own packs: every `*.toml` in the home's packs folder, and in its sub-folders one level
    down, so a pack folder (a pack file beside its `labs/`, as `cardlab pack new` writes) can be put there
    whole. Lab folders hold `lab.toml` files, never pack files, so they are not mistaken for packs."""
    if not home.packs_dir.is_dir():
        return []
    found = [*home.packs_dir.glob("*.toml"), *home.packs_dir.glob("*/*.toml")]
    return sorted(path for path in found if path.is_file() and path.name != "lab.toml")


def linked_pack_paths(home: Home) -> list[Path]:
    """The pack files of the user's links (`cardlab pack add --link`); none when links.json is unusable
    (`discover_packs` reports that)."""
    try:
        return linked_pack_files(read_links(home))
    except LinksError:
        return []


def _link_problems(home: Home) -> list[PackError]:
    """A damaged links.json, and each link whose target vanished, as one problem each."""
    try:
        links = read_links(home)
    except LinksError as error:
        return [PackError([Problem(error.path, 1, None, error.reason)])]
    return [
        PackError([Problem(link.path, 1, None, missing_link_message(link))]) for link in missing_links(links)
    ]


def pack_cache_dir(home: Home) -> Path:
    """Where validated packs are cached (see `cards.pack.load_pack`); safe to delete at any time."""
    return home.cache_dir / "packs"


def discover_packs(
    home: Home, known_labs: Collection[str] | None = None
) -> tuple[list[Pack], list[PackError]]:
    """Load bundled, then user, then linked packs. A broken pack, one reusing an earlier pack's id, or a
    link whose target vanished is skipped and reported; the others still load. Valid packs are cached
    under `pack_cache_dir(home)`."""
    packs: list[Pack] = []
    errors = _link_problems(home)
    by_id: dict[str, Pack] = {}
    cache_dir = pack_cache_dir(home)
    for path in bundled_pack_paths() + user_pack_paths(home) + linked_pack_paths(home):
        try:
            pack = load_pack(path, known_labs, cache_dir)
        except PackError as error:
            errors.append(error)
            continue
        if pack.id in by_id:
            errors.append(_clash(pack, by_id[pack.id]))
            continue
        by_id[pack.id] = pack
        packs.append(pack)
    return packs, errors


class PackRemoveError(Exception):
    """`remove_pack` refused; the message says why (a bundled pack, an unknown id...)."""


def _is_copy(home: Home, pack: Pack) -> bool:
    """A pack file `cardlab pack add` copied into the packs folder (not a pack folder put there whole)."""
    return pack.path.parent.resolve() == home.packs_dir.resolve()


def _is_linked(links: list[Link], pack: Pack) -> bool:
    return any(_link_holds(link, pack.path) for link in links)


def _link_holds(link: Link, path: Path) -> bool:
    resolved = path.resolve()
    return link.path == resolved or (link.path.is_dir() and resolved.parent == link.path)


def add_pack(
    home: Home, file: str | Path, known_labs: Collection[str] | None = None, replace: bool = False
) -> Path:
    """Validate `file` and copy it into the user's packs folder as `<pack id>.toml`.

    Raises PackError when the file is invalid, when its id is a bundled pack's, or when a user pack
    (copied or linked) already has that id (unless `replace`, which updates that pack: a linked one
    becomes a copy; its review history is kept).
    """
    source = Path(file)
    pack = load_pack(source, known_labs)
    destination = home.packs_dir / f"{pack.id}.toml"
    existing, _ = discover_packs(home)
    links = _readable_links(home)
    unlink: list[Pack] = []
    for other in existing:
        if other.id != pack.id:
            continue
        kind = "copy" if _is_copy(home, other) else "link" if _is_linked(links, other) else "bundled"
        if not (replace and kind != "bundled"):
            raise PackError([_clash_problem(pack, other, kind)])
        if kind == "copy":
            destination = other.path
        else:
            unlink.append(other)
    if source.resolve() == destination.resolve():
        return destination
    if destination.exists() and not replace:  # a file there that did not load as a pack
        message = f"{destination} already exists: pass --replace to overwrite it"
        raise PackError([Problem(source, pack_id_line(source), None, message)])
    home.packs_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(destination, source.read_bytes())  # never a half-written pack, even over the old one
    if unlink:
        write_links(home, [link for link in links if not any(_link_holds(link, p.path) for p in unlink)])
    return destination


def link_pack(
    home: Home, target: str | Path, known_labs: Collection[str] | None = None, replace: bool = False
) -> tuple[list[Pack], bool]:
    """Record a link to `target` (a pack file, or a folder of them) so cardlab reads it where it is.

    Validates like `add_pack`; a pack id already used by a bundled pack is refused, one used by a user
    pack (copied or linked) needs `replace`, which forgets that copy or link (its history is kept).
    Returns the linked packs and whether one replaced an earlier pack.
    """
    path = Path(target).expanduser().resolve()
    if path.is_relative_to(home.packs_dir.resolve()):
        message = "is already in your packs folder, which cardlab reads anyway: no link is needed"
        raise PackError([Problem(path, 1, None, message)])
    if path.is_dir() and not linked_pack_files([Link(path, ())]):
        raise PackError(
            [Problem(path, 1, None, "the folder holds no .toml pack file: link a pack file or folder")]
        )
    packs = load_packs(linked_pack_files([Link(path, ())]), known_labs)
    existing, _ = discover_packs(home)
    links = _readable_links(home)
    ids = {pack.id for pack in packs}
    replaced = [other for other in existing if other.id in ids]
    for other in replaced:
        kind = "copy" if _is_copy(home, other) else "link" if _is_linked(links, other) else "bundled"
        if not (replace and kind != "bundled"):
            mine = next(pack for pack in packs if pack.id == other.id)
            raise PackError([_clash_problem(mine, other, kind)])
    for other in replaced:
        if _is_copy(home, other) and other.path.resolve() != path and other.path.resolve().parent != path:
            other.path.unlink()
    kept = [
        link for link in links if link.path != path and not any(_link_holds(link, o.path) for o in replaced)
    ]
    write_links(home, [*kept, Link(path, tuple(pack.id for pack in packs))])
    return packs, bool(replaced)


def remove_pack(home: Home, pack_id: str) -> str:
    """Forget the user pack `pack_id`: delete its copy in the packs folder, or its link. Review history is
    never touched. Returns what was done, for the user; raises PackRemoveError when it cannot."""
    links = _readable_links(home)
    for link in links:  # a link is forgotten even when its target vanished
        if pack_id in link.packs and not link.path.exists():
            write_links(home, [other for other in links if other is not link])
            return f"forgot the link to {link.path} (it no longer exists); review history kept"
    existing, _ = discover_packs(home)
    pack = next((pack for pack in existing if pack.id == pack_id), None)
    if pack is None:
        yours = ", ".join(p.id for p in existing if _is_copy(home, p) or _is_linked(links, p)) or "none"
        raise PackRemoveError(f"no pack with id {pack_id!r} (your packs: {yours})")
    holding = [link for link in links if _link_holds(link, pack.path)]
    if holding:
        write_links(home, [link for link in links if link not in holding])
        together = sorted({other for link in holding for other in link.packs} - {pack_id})
        also = f" (with the packs {', '.join(together)} linked from there)" if together else ""
        return f"forgot the link to {holding[0].path}{also}; the files and review history are kept"
    if _is_copy(home, pack):
        pack.path.unlink()
        return f"removed {pack.path}; review history kept"
    if pack.path.resolve().is_relative_to(home.packs_dir.resolve()):
        raise PackRemoveError(
            f"{pack_id} is in the folder {pack.path.parent} of your packs folder: delete that folder to remove it"
        )
    raise PackRemoveError(f"{pack_id} is a bundled pack: it cannot be removed")


def _readable_links(home: Home) -> list[Link]:
    """The links; a damaged links.json counts as none here (`discover_packs` reports it)."""
    try:
        return read_links(home)
    except LinksError:
        return []


def _clash(pack: Pack, first: Pack) -> PackError:
    message = duplicate_pack_message(pack.id, first.path, pack_id_line(first.path))
    return PackError([Problem(pack.path, pack_id_line(pack.path), None, message)])


def _clash_problem(pack: Pack, other: Pack, kind: str) -> Problem:
    if kind == "bundled":
        message = (
            f'pack id "{pack.id}" is already used by the bundled pack {other.path}: give this pack another id'
        )
    else:
        fix = "pass --replace to update it (its review history is kept), or give this pack another id"
        mine = "your linked pack" if kind == "link" else "your pack"
        message = f'pack id "{pack.id}" is already used by {mine} {other.path}: {fix}'
    return Problem(pack.path, pack_id_line(pack.path), None, message)
