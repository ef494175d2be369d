"""Packs: how one TOML file of cards (see docs/packs.md) is loaded; the data model is `cards.pack_model`.

`load_pack` either returns a `Pack` or raises `PackError` listing every problem found, each with the file,
line (and column where tomllib gives one), what is wrong and how to fix it. The rules a file must follow,
and the messages that say how to fix it, are in `cards.pack_format`. Given a `cache_dir`, a valid pack is
also cached and later loads of the unchanged file skip parsing and validating: `cards.pack_cache`, which
explains its speed tricks. Both are imported only when needed (a cache hit never imports the rules, nor
tomllib, json or the line index).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable
from pathlib import Path

from cards.pack_model import (  # the data model, handed on: `from cards.pack import Card, Pack` reads well
    FORMAT,
    MAX_PROBLEMS_PER_FILE,
    Card,
    Pack,
    PackError,
    Problem,
    content_hash,
)

__all__ = [
    "FORMAT",
    "MAX_PROBLEMS_PER_FILE",
    "Card",
    "Pack",
    "PackError",
    "Problem",
    "content_hash",
    "duplicate_pack_message",
    "expand_paths",
    "load_pack",
    "load_packs",
    "pack_id_line",
]


def load_pack(
    path: str | Path, known_labs: Collection[str] | None = None, cache_dir: Path | None = None
) -> Pack:
    """Load and validate one pack file. Lab ids are only checked when `known_labs` is given.

    With `cache_dir`, a valid pack is cached there and later loads of the unchanged file skip parsing."""
    pack, _ = _load(Path(path), known_labs, cache_dir)
    return pack


def load_packs(
    paths: Iterable[str | Path], known_labs: Collection[str] | None = None, cache_dir: Path | None = None
) -> list[Pack]:
    """Load every pack in `paths` (a folder gives each `*.toml` in it); all problems of all files at once."""
    packs: list[Pack] = []
    problems: list[Problem] = []
    first_use: dict[str, tuple[Path, int]] = {}
    for path in expand_paths(paths):
        try:
            pack, id_line = _load(path, known_labs, cache_dir)
        except PackError as error:
            problems.extend(error.problems)
            continue
        if pack.id in first_use:
            other, other_line = first_use[pack.id]
            problems.append(Problem(path, id_line, None, duplicate_pack_message(pack.id, other, other_line)))
            continue
        first_use[pack.id] = (path, id_line)
        packs.append(pack)
    if problems:
        raise PackError(problems)
    return packs


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given; folders replaced by their `*.toml` files in name order."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(child for child in path.glob("*.toml") if child.is_file()))
        else:
            files.append(path)
    return files


def duplicate_pack_message(pack_id: str, other: Path, other_line: int) -> str:
    return (
        f'pack id "{pack_id}" is already used by {other}:{other_line}; '
        "pack ids must be unique (review history is kept per pack id), so rename one of them"
    )


def pack_id_line(path: str | Path) -> int:
    """Line of the `id` key in the `[pack]` table of `path` (1 when it cannot be found)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return 1
    from cards.toml_lines import index_lines

    return index_lines(text).pack_table().line_of("id")


# --- reading ------------------------------------------------------------------------------------------


def _load(path: Path, known_labs: Collection[str] | None, cache_dir: Path | None) -> tuple[Pack, int]:
    from cards.pack_cache import PackCache, collector_paused

    cache = PackCache.open(cache_dir, path, known_labs) if cache_dir is not None else None
    cached = cache.read(path) if cache is not None else None
    if cached is not None:
        return cached
    read_ns = time.time_ns()
    raw = _read_bytes(path)
    text = _decode(path, raw)
    from cards.pack_format import parse_and_check

    with collector_paused():
        pack, id_line = parse_and_check(path, text, known_labs)
    if cache is not None:
        cache.write(pack, id_line, raw, read_ns)
    return pack, id_line


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise PackError([Problem(path, 1, None, "no such file: check the path")]) from None
    except IsADirectoryError:
        raise PackError([Problem(path, 1, None, "is a folder: give a .toml file")]) from None
    except OSError as error:
        raise PackError([Problem(path, 1, None, f"cannot read the file: {error.strerror}")]) from None


def _decode(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")  # an editor's byte-order mark is harmless
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        bad = raw[error.start : error.start + 1].hex()
        message = f"the file is not UTF-8 text (byte 0x{bad}): save it with UTF-8 encoding"
        raise PackError([Problem(path, line, column, message)]) from None
