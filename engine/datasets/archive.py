"""Unpacking a downloaded archive safely: every member lands inside the target folder, links and devices are
refused, and a small archive cannot unpack to more than its budget (a "zip bomb"). Stdlib only."""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Protocol

from engine.datasets.catalog import (
    DatasetError,
)


class UnsafeArchive(DatasetError):
    """An archive member would land outside the target, or is a link or a device."""


# Caps on what an archive may unpack to: a small archive must not fill the disk (a "zip bomb"), and the
# real datasets stay far below them (text compresses about 5x, the largest catalog archive is 190 MB).
CHUNK_BYTES = 1 << 16  # read and written in pieces of this size
MAX_EXTRACTED_BYTES = 32 * 2**30
MAX_EXPANSION = 100  # unpacked bytes per archive byte
EXPANSION_FLOOR_BYTES = 16 * 2**20  # tiny archives may always unpack this much
MAX_DEPTH = 64  # parts (folders and the file) of one member path
MAX_NAME_BYTES = 255  # one path component, as most file systems allow


class _Budget:
    """Bytes left to unpack; writing past it raises UnsafeArchive."""

    def __init__(self, archive: Path) -> None:
        allowed = max(archive.stat().st_size * MAX_EXPANSION, EXPANSION_FLOOR_BYTES)
        self.left = min(MAX_EXTRACTED_BYTES, allowed)
        self.archive = archive

    def spend(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise UnsafeArchive(
                f"{self.archive.name} unpacks to more than {MAX_EXPANSION}x its size "
                f"(or over {MAX_EXTRACTED_BYTES // 2**30} GiB); refusing it as a decompression bomb"
            )


def extract_safely(archive: Path, dest: Path) -> None:
    """Unpack a tar (any compression) or zip into `dest`, refusing members that could escape it.

    Only plain files and folders are written: absolute names, `..` parts, symlinks, and links or
    devices of any other kind are refused (a hard link to a file unpacked earlier is copied). The total
    size is capped (`_Budget`). Every failure, the file system's included, is a DatasetError.
    """
    try:
        dest.mkdir(parents=True, exist_ok=True)
        budget = _Budget(archive)
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, dest, budget)
        elif tarfile.is_tarfile(archive):
            _extract_tar(archive, dest, budget)
        else:
            raise DatasetError(f"{archive.name} is neither a tar nor a zip archive")
    except (tarfile.TarError, zipfile.BadZipFile, gzip.BadGzipFile, zlib.error, EOFError) as err:
        raise DatasetError(f"{archive.name} is damaged and cannot be unpacked: {err}") from err
    except OSError as err:  # e.g. a full disk while unpacking
        raise DatasetError(
            f"{archive.name} could not be unpacked into {dest}: {err.strerror or err}"
        ) from err


@contextlib.contextmanager
def _member(name: str) -> Iterator[None]:
    """File-system errors while writing one member (a file where a folder must go, or the reverse)."""
    try:
        yield
    except (IsADirectoryError, NotADirectoryError, FileExistsError) as err:
        raise UnsafeArchive(
            f"archive member {name!r} clashes with another member of the same name ({err.strerror})"
        ) from err


def _member_path(dest: Path, name: str) -> Path | None:
    """Where member `name` goes under `dest`; None for the archive's root entry ("./").

    A lexical check is enough: `dest` starts empty and no link is ever created in it, so no folder
    on the way can redirect a write elsewhere.
    """
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchive(f"archive member {name!r} has an absolute path")
    parts = [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]
    shown = name if len(name) <= 80 else f"{name[:60]}…"
    if ".." in parts:
        raise UnsafeArchive(f"archive member {shown!r} climbs out of the target folder with '..'")
    if len(parts) > MAX_DEPTH:
        raise UnsafeArchive(
            f"archive member {shown!r} has {len(parts)} path parts, folders included (at most {MAX_DEPTH})"
        )
    if any(len(os.fsencode(part)) > MAX_NAME_BYTES for part in parts):
        raise UnsafeArchive(f"archive member {shown!r} has a name longer than {MAX_NAME_BYTES} bytes")
    return dest.joinpath(*parts) if parts else None


def _write_file(source: IO[bytes], path: Path, budget: _Budget) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        while chunk := source.read(CHUNK_BYTES):  # counted as it comes: declared sizes can lie
            budget.spend(len(chunk))
            out.write(chunk)


def _extract_tar(archive: Path, dest: Path, budget: _Budget) -> None:
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            with _member(member.name):
                _extract_tar_member(tar, member, dest, budget)
        _drain(tar.fileobj)


def _extract_tar_member(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path, budget: _Budget) -> None:
    path = _member_path(dest, member.name)
    if member.issym():
        raise UnsafeArchive(
            f"archive member {member.name!r} is a symbolic link to {member.linkname!r}; "
            "dataset archives hold plain files only"
        )
    if path is None:
        return
    if member.isdir():
        path.mkdir(parents=True, exist_ok=True)
    elif member.isfile():
        source = tar.extractfile(member)
        assert source is not None  # regular members always have data
        with source:
            _write_file(source, path, budget)
    elif member.islnk():
        _copy_hard_link(dest, member, path, budget)
    else:
        raise UnsafeArchive(f"archive member {member.name!r} is a device or pipe, not a plain file")


class _Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


def _drain(stream: _Readable | None) -> None:
    """Read a compressed tar to its very end: gzip checks its CRC only there, and the archive's
    hash may cover just its first MiB."""
    while stream is not None and stream.read(CHUNK_BYTES * 16):
        pass


def _copy_hard_link(dest: Path, member: tarfile.TarInfo, path: Path, budget: _Budget) -> None:
    """A hard link may only repeat a file unpacked earlier in this archive; copy it."""
    refusal = UnsafeArchive(
        f"archive member {member.name!r} is a hard link to {member.linkname!r}, "
        "which is not a file unpacked earlier from the archive"
    )
    try:
        source = _member_path(dest, member.linkname)
    except UnsafeArchive:
        raise refusal from None
    if source is None or not source.is_file():
        raise refusal
    budget.spend(source.stat().st_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, path)


def _extract_zip(archive: Path, dest: Path, budget: _Budget) -> None:
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            with _member(info.filename):
                _extract_zip_member(zipped, info, dest, budget)


def _extract_zip_member(zipped: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, budget: _Budget) -> None:
    path = _member_path(dest, info.filename)
    if stat.S_ISLNK(info.external_attr >> 16):
        raise UnsafeArchive(
            f"archive member {info.filename!r} is a symbolic link; dataset archives hold plain files only"
        )
    if path is None:
        return
    if info.is_dir():
        path.mkdir(parents=True, exist_ok=True)
    else:
        with zipped.open(info) as source:
            _write_file(source, path, budget)
