"""Where packs come from: the ones bundled with cardlab and the user's packs folder."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import cards
from cards.files import write_atomic
from cards.pack import Pack, PackError, Problem, duplicate_pack_message, load_pack, pack_id_line
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


def pack_cache_dir(home: Home) -> Path:
    """Where validated packs are cached (see `cards.pack.load_pack`); safe to delete at any time."""
    return home.cache_dir / "packs"


def discover_packs(
    home: Home, known_labs: Collection[str] | None = None
) -> tuple[list[Pack], list[PackError]]:
    """Load bundled then user packs. A broken pack, or one reusing an earlier pack's id, is skipped and
    reported; the others still load. Valid packs are cached under `pack_cache_dir(home)`."""
    packs: list[Pack] = []
    errors: list[PackError] = []
    by_id: dict[str, Pack] = {}
    cache_dir = pack_cache_dir(home)
    for path in bundled_pack_paths() + user_pack_paths(home):
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


def add_pack(
    home: Home, file: str | Path, known_labs: Collection[str] | None = None, replace: bool = False
) -> Path:
    """Validate `file` and copy it into the user's packs folder as `<pack id>.toml`.

    Raises PackError when the file is invalid, when its id is a bundled pack's, or when a user pack
    already has that id (unless `replace`, which updates that user pack; its review history is kept).
    """
    source = Path(file)
    pack = load_pack(source, known_labs)
    destination = home.packs_dir / f"{pack.id}.toml"
    existing, _ = discover_packs(home)
    for other in existing:
        if other.id != pack.id:
            continue
        is_user_pack = other.path.parent.resolve() == home.packs_dir.resolve()
        if not (replace and is_user_pack):
            raise PackError([_clash_problem(pack, other, is_user_pack)])
        destination = other.path
    if source.resolve() == destination.resolve():
        return destination
    if destination.exists() and not replace:  # a file there that did not load as a pack
        message = f"{destination} already exists: pass --replace to overwrite it"
        raise PackError([Problem(source, pack_id_line(source), None, message)])
    home.packs_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(destination, source.read_bytes())  # never a half-written pack, even over the old one
    return destination


def _clash(pack: Pack, first: Pack) -> PackError:
    message = duplicate_pack_message(pack.id, first.path, pack_id_line(first.path))
    return PackError([Problem(pack.path, pack_id_line(pack.path), None, message)])


def _clash_problem(pack: Pack, other: Pack, is_user_pack: bool) -> Problem:
    if is_user_pack:
        fix = "pass --replace to update it (its review history is kept), or give this pack another id"
        message = f'pack id "{pack.id}" is already used by your pack {other.path}: {fix}'
    else:
        message = (
            f'pack id "{pack.id}" is already used by the bundled pack {other.path}: give this pack another id'
        )
    return Problem(pack.path, pack_id_line(pack.path), None, message)
