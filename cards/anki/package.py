"""Open an Anki package (`.apkg`, `.colpkg`): find the newest collection inside and the media map.

A package is a zip archive holding:

- `collection.anki21b` (modern, Anki 2.1.50+): the SQLite collection compressed with zstd; the package
  also holds a placeholder `collection.anki2` whose only note asks the user to update Anki;
- `collection.anki21` (legacy 2) or `collection.anki2` (legacy 1, as genanki writes): plain SQLite;
- `media`: the media map, zstd-compressed protobuf `MediaEntries` in modern packages (entry i is the
  zip member "i", itself zstd-compressed), JSON `{"0": "name.png"}` in legacy ones;
- `meta` (modern and newer legacy exports): protobuf `PackageMetadata`, the version the member names
  already tell, so it is not read.

The newest collection present is always read, never the placeholder. Everything here is untrusted:
member sizes are capped before and while decompressing, media names must be plain file names.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from cards.anki import AnkiError
from cards.anki.protobuf import fields, first_int, first_text

# Newest first: the first one present is the collection to read.
COLLECTIONS = ("collection.anki21b", "collection.anki21", "collection.anki2")
MAX_COLLECTION_BYTES = 2 << 30  # an uncompressed collection this large is not a deck but an attack
MAX_MEDIA_FILE_BYTES = 256 << 20
MAX_MAP_BYTES = 64 << 20
_CHUNK = 1 << 20


@dataclass(frozen=True)
class MediaEntry:
    name: str  # the file name notes refer to
    member: str  # the zip member holding it


class Package:
    """An open package: `.database` is a read-only SQLite connection to its collection. Use as a context
    manager; the decompressed copy lives in a temporary folder removed on exit."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._zip = zipfile.ZipFile(self.path)
        except FileNotFoundError:
            raise AnkiError(f"{self.path}: no such file") from None
        except (zipfile.BadZipFile, OSError) as err:
            raise AnkiError(f"{self.path}: not an Anki package (not a zip archive: {err})") from None
        self._folder = Path(tempfile.mkdtemp(prefix="cardlab-anki-"))
        try:
            self.collection_name = self._pick_collection()
            self.database = self._open_collection()
            self.media = self._media_map()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Package:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        database = getattr(self, "database", None)
        if database is not None:
            database.close()
            del self.database
        self._zip.close()
        shutil.rmtree(self._folder, ignore_errors=True)

    @property
    def modern(self) -> bool:
        return self.collection_name == "collection.anki21b"

    # -- the collection ---------------------------------------------------------------------------

    def _pick_collection(self) -> str:
        names = set(self._zip.namelist())
        for name in COLLECTIONS:
            if name in names:
                return name
        raise AnkiError(f"{self.path}: not an Anki package (no collection.anki21b, .anki21 or .anki2 inside)")

    def _open_collection(self) -> sqlite3.Connection:
        target = self._folder / "collection.sqlite"
        with self._member(self.collection_name, MAX_COLLECTION_BYTES) as source, open(target, "wb") as out:
            if self.modern:
                _unzstd_stream(source, out, MAX_COLLECTION_BYTES, f"{self.path}: {self.collection_name}")
            else:
                _copy_capped(source, out, MAX_COLLECTION_BYTES, f"{self.path}: {self.collection_name}")
        try:
            database = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
            database.execute("SELECT ver FROM col").fetchone()
        except sqlite3.DatabaseError as err:
            raise AnkiError(
                f"{self.path}: the collection inside is corrupt or not an Anki collection ({err})"
            ) from None
        return database

    def _member(self, name: str, cap: int):  # noqa: ANN202 (a zipfile stream)
        try:
            info = self._zip.getinfo(name)
        except KeyError:
            raise AnkiError(f"{self.path}: {name} is missing from the package") from None
        if info.file_size > cap:
            raise AnkiError(f"{self.path}: {name} is too large ({info.file_size} bytes; the limit is {cap})")
        try:
            return self._zip.open(info)
        except (zipfile.BadZipFile, NotImplementedError, OSError) as err:
            raise AnkiError(f"{self.path}: cannot read {name} ({err})") from None

    def _read(self, name: str, cap: int, compressed: bool) -> bytes:
        """A whole member, decompressed (from zstd too when `compressed`), at most `cap` bytes."""
        try:
            with self._member(name, cap) as source:
                raw = source.read(cap + 1)
        except (zipfile.BadZipFile, OSError, EOFError) as err:
            raise AnkiError(f"{self.path}: {name} is corrupt ({err})") from None
        if len(raw) > cap:
            raise AnkiError(f"{self.path}: {name} is larger than its {cap}-byte limit")
        return _unzstd(raw, cap, f"{self.path}: {name}") if compressed else raw

    # -- media ------------------------------------------------------------------------------------

    def _media_map(self) -> dict[str, MediaEntry]:
        """File name -> where it is; names that are not plain file names are left out."""
        if "media" not in self._zip.namelist():
            return {}
        raw = self._read("media", MAX_MAP_BYTES, compressed=self.modern)
        entries = _modern_media(raw, self.path) if self.modern else _legacy_media(raw, self.path)
        return {entry.name: entry for entry in entries if safe_media_name(entry.name)}

    def read_media(self, name: str) -> bytes:
        entry = self.media[name]
        return self._read(entry.member, MAX_MEDIA_FILE_BYTES, compressed=self.modern)


def safe_media_name(name: str) -> bool:
    """A plain file name: no folders, no parent references, no hidden or control characters."""
    return (
        bool(name)
        and name not in (".", "..")
        and not name.startswith(".")
        and "/" not in name
        and "\\" not in name
        and not any(ord(char) < 32 for char in name)
        and len(name.encode()) <= 255
    )


def _legacy_media(raw: bytes, path: Path) -> list[MediaEntry]:
    try:
        mapping = json.loads(raw.decode("utf-8") or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise AnkiError(f"{path}: the media map is corrupt ({err})") from None
    if not isinstance(mapping, dict):
        raise AnkiError(f"{path}: the media map is corrupt (not a JSON object)")
    return [MediaEntry(str(name), str(member)) for member, name in mapping.items() if isinstance(name, str)]


def _modern_media(raw: bytes, path: Path) -> list[MediaEntry]:
    """MediaEntries { repeated MediaEntry entries = 1 }; MediaEntry { string name = 1; uint32 size = 2;
    bytes sha1 = 3; optional uint32 legacy_zip_filename = 255 }: entry i is member "i" unless 255 says."""
    try:
        entries = fields(raw).get(1, [])
        found = []
        for index, blob in enumerate(entries):
            if not isinstance(blob, bytes):
                continue
            entry = fields(blob)
            member = str(first_int(entry, 255, index)) if 255 in entry else str(index)
            found.append(MediaEntry(first_text(entry, 1), member))
    except AnkiError as err:
        raise AnkiError(f"{path}: the media map is corrupt ({err})") from None
    return found


def _zstd():  # noqa: ANN202
    import zstandard  # only packages need it

    return zstandard


def _unzstd(raw: bytes, cap: int, what: str) -> bytes:
    zstandard = _zstd()
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(raw)
        data = reader.read(cap + 1)
    except zstandard.ZstdError as err:
        raise AnkiError(f"{what} is corrupt (zstd: {err})") from None
    if len(data) > cap:
        raise AnkiError(f"{what} is larger than its {cap}-byte limit")
    return data


def _unzstd_stream(source, out, cap: int, what: str) -> None:  # noqa: ANN001
    """Decompress a zstd stream into `out` in bounded reads, so a bomb stops at `cap`. A stream cut
    short yields what it holds without an error; the SQLite check that follows rejects a partial file."""
    zstandard = _zstd()
    written = 0
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(source)
        while chunk := reader.read(_CHUNK):
            written += len(chunk)
            if written > cap:
                raise AnkiError(f"{what} decompresses past its {cap}-byte limit")
            out.write(chunk)
    except (zstandard.ZstdError, zipfile.BadZipFile, EOFError) as err:
        raise AnkiError(f"{what} is corrupt ({err})") from None
    if written == 0:
        raise AnkiError(f"{what} is empty or truncated")


def _copy_capped(source, out, cap: int, what: str) -> None:  # noqa: ANN001
    written = 0
    try:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > cap:
                raise AnkiError(f"{what} is larger than its {cap}-byte limit")
            out.write(chunk)
    except (zipfile.BadZipFile, EOFError) as err:
        raise AnkiError(f"{what} is corrupt ({err})") from None
