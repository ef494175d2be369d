"""The validated-pack cache, and the tricks that make loading 100,000 cards fast.

A pack that loaded without problems is written to `cache_dir` in a compact form (marshal of plain dicts),
keyed by the file's resolved path, size, mtime, ctime and inode (plus its content digest when it was
modified just before being read), the known labs and `LOADER_VERSION`; the next load of the unchanged file
is rebuilt from it without parsing or validating again (`PackCache`). The tricks, all for the 100,000-card
pack of `bench/study_scale.py` and `bench/study_startup.py`:

- **marshal** of plain tuples and strings: read about 1.4x faster than pickle (100,000 card dicts,
  median of 7 runs on the shared 2-core development machine), and no class lookups; a tuple per card (its
  values in field order, less its file) reads about twice as fast again as a dict per card. The cache is
  private to one cardlab (`LOADER_VERSION` is in its key), so marshal's format changing between Python
  versions only costs a miss.
- **`tuple.__new__`** (`card_from_fields`, and inlined in `_unpack`): a Card is a named tuple, made from
  its values in one call rather than by binding them to the 14 keyword parameters of `Card(...)`.
- **the garbage collector paused** (`collector_paused`) while a pack is parsed, validated or unpacked: its
  millions of new objects hold no reference cycles, yet would trigger repeated full collections.
"""

from __future__ import annotations

import gc
import marshal
import os
import zlib
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cards.pack_model import Card, Pack

_new_tuple = tuple.__new__


def card_from_fields(fields: dict[str, Any]) -> Card:
    """The Card whose fields are `fields` (every Card field, in field order): one tuple made from the
    values, faster than binding them to `Card(**fields)`'s keyword parameters, 100,000 times over."""
    return _new_tuple(Card, fields.values())


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building a pack: its millions of new objects (TOML
    tables, strings, cards) hold no reference cycles, yet would trigger repeated full collections."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


LOADER_VERSION = 4  # bump when validation or the Card/Pack fields change: older cache files then miss
# Every cache file's name starts with this; a write removes the files of other versions
# (`_remove_older_loaders_files`).
_VERSION_PREFIX = f"v{LOADER_VERSION}-"
# A card is stored without its file (the pack's path, put back on load at this index of its values).
_FILE_INDEX = Card._fields.index("file")
_STORED_CARD_FIELDS = Card._fields[:_FILE_INDEX] + Card._fields[_FILE_INDEX + 1 :]
# The Pack's own fields; its path and cards are rebuilt on load, not stored.
_PACK_FIELDS = tuple(name for name in Pack._fields if name not in ("path", "cards"))
# A file changed again within this long of being read may keep its mtime (coarse file-system clocks):
# such a cache entry is only trusted after comparing the file's content digest.
_RACY_NS = 2_000_000_000
# What reading an absent, truncated, corrupt or foreign cache file can raise: each one is just a miss.
_UNUSABLE_CACHE = (OSError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError)


class PackCache:
    """One cache file per (pack file, known labs), valid only while the file is unchanged.

    Unchanged means the same size, mtime, ctime and inode as when it was read (ctime and inode catch a
    copy or rename that keeps the mtime; like git's index). When the file was modified shortly before it
    was read, a later edit could keep its mtime, so that entry is trusted only if the content digest
    matches too. An unreadable, corrupt or foreign cache file is a miss, replaced on the next good load.
    """

    def __init__(self, file: Path, key: tuple[Any, ...], stamp: tuple[int, ...] | None) -> None:
        self.file = file
        self.key = key  # loader version, resolved path, known labs
        self.stamp = stamp  # the pack file's size, mtime, ctime, inode now (None: cannot stat it)

    @classmethod
    def open(cls, folder: Path, path: Path, known_labs: Collection[str] | None) -> PackCache:
        labs = None if known_labs is None else tuple(sorted(set(known_labs)))
        resolved = str(path.resolve())
        key = (LOADER_VERSION, resolved, labs)
        name = _file_name(key)
        try:
            info = os.stat(resolved)
            stamp: tuple[int, ...] | None = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)
        except OSError:
            stamp = None  # the loader reports the missing file
        return cls(folder / f"{name}.marshal", key, stamp)

    def read(self, path: Path) -> tuple[Pack, int] | None:
        """The cached pack (its cards naming `path`) if it still matches the file, else None."""
        if self.stamp is None:
            return None
        try:
            with open(self.file, "rb") as stream:
                key, stamp, digest, checksum = marshal.load(stream)
                if key != self.key or stamp != self.stamp:
                    return None
                blob = stream.read()
            if zlib.crc32(blob) != checksum:
                return None
            if digest is not None and _sha256(Path(self.key[1]).read_bytes()) != digest:
                return None
            return _unpack(path, blob)
        except _UNUSABLE_CACHE:
            return None

    def write(self, pack: Pack, id_line: int, raw: bytes, read_ns: int) -> None:
        """Store `pack` atomically; a cache that cannot be written is skipped."""
        from cards.files import write_atomic

        if self.stamp is None or self.stamp[0] != len(raw):
            return  # the file changed while it was read
        racy = max(self.stamp[1], self.stamp[2]) > read_ns - _RACY_NS
        digest = _sha256(raw) if racy else None
        blob = marshal.dumps(_pack_to_cache(pack, id_line))
        header = marshal.dumps((self.key, self.stamp, digest, zlib.crc32(blob)))
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.file, header + blob)
        except OSError:
            return  # e.g. a read-only cache folder or a full disk: loading still works, only uncached
        _remove_older_loaders_files(self.file.parent)


def _file_name(key: tuple[Any, ...]) -> str:
    """The cache file's name for `key`: the loader version (see `_remove_older_loaders_files`), then two
    zlib checksums, not a cryptographic hash, whose module (hashlib) would be ~1.5 ms of every start-up.
    The file holds its key, so a clash of names only costs a miss."""
    data = repr(key).encode("utf-8")
    return f"{_VERSION_PREFIX}{zlib.crc32(data):08x}{zlib.adler32(data):08x}"


def _remove_older_loaders_files(folder: Path) -> None:
    """Delete the cache files that an older loader wrote (another version in the name, or none: no load
    of this cardlab can use them), so that they do not pile up, one per pack and version. Run after a
    write, which is rare: only a pack parsed anew writes."""
    for stale in folder.glob("*.marshal"):
        if not stale.name.startswith(_VERSION_PREFIX):
            stale.unlink(missing_ok=True)


def _sha256(data: bytes) -> bytes:
    """The content digest of a pack file read within _RACY_NS of its last change (rare: hashlib on demand)."""
    import hashlib

    return hashlib.sha256(data).digest()


def _pack_to_cache(pack: Pack, id_line: int) -> tuple[Any, ...]:
    """Plain values only: the stored card fields' names, the header tuple, the id line and one tuple of
    values per card (its file left out)."""
    shared_tags: dict[tuple[str, ...], tuple[str, ...]] = {}  # equal tag tuples are written once
    cards = []
    for card in pack.cards:
        values = card._replace(tags=shared_tags.setdefault(card.tags, card.tags))
        cards.append(values[:_FILE_INDEX] + values[_FILE_INDEX + 1 :])
    header = tuple(getattr(pack, name) for name in _PACK_FIELDS)
    return _STORED_CARD_FIELDS, header, id_line, cards


def _unpack(path: Path, blob: bytes) -> tuple[Pack, int]:
    """Rebuild the Pack; each card is made from its stored values with the file put back (as
    `card_from_fields`, inlined: this runs once per card)."""
    with collector_paused():
        card_fields, header, id_line, rows = marshal.loads(blob)
        if not rows or card_fields != _STORED_CARD_FIELDS:
            raise ValueError("cached card fields do not match Card")
        file, cut = (path,), _FILE_INDEX
        cards = tuple([_new_tuple(Card, row[:cut] + file + row[cut:]) for row in rows])
    return Pack(**dict(zip(_PACK_FIELDS, header)), path=path, cards=cards), id_line
