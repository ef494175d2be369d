"""Fault injection shared by the fault suite (issue 14): a full disk, a read-only folder, damaged review
stores and hostile text. Tests get these through the fixtures in tests/conftest.py or import them."""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

PAGE = 4096  # the review store's page size (SQLite's default)

# Text that must reach a screen literally: escapes that would drive a terminal, markup Rich or Textual
# would interpret, HTML-ish tokens a Markdown renderer could drop, invisible characters, a very long line.
HOSTILE = [
    "\x1b]0;PWNED\x07\x1b[2J",  # OSC retitle, BEL, clear screen
    "\x1b[31mred\x1b[0m \x9b2J",  # SGR, and C1 CSI alone
    "[bold]not bold[/bold] [link=https://x]no link[/link] [/]",  # Rich / Textual markup
    "The tokens <unk> and <pad>; List<int>; <div>x</div>",  # HTML-ish text a deep-learning pack holds
    "zero\u200bwidth\u200d joiner \u202eevil\u202c",  # zero-width and a bidi override
    "long " + "x" * 3000,
]


# -- a full disk ----------------------------------------------------------------------------------------


def fill_the_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on os.write stores a few bytes, then fails with ENOSPC, as on a full disk."""
    real_write = os.write

    def write(descriptor: int, data: bytes) -> int:
        real_write(descriptor, bytes(data[:10]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", write)


@functools.cache
def can_mount() -> bool:
    """Root that may mount a tmpfs (CI runs as root): a real full disk, SQLite's writes included."""
    if os.geteuid() != 0:
        return False
    probe = Path(f"/tmp/cardlab-mount-probe-{os.getpid()}")
    probe.mkdir(exist_ok=True)
    try:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)], capture_output=True
        )
        if mounted.returncode == 0:
            subprocess.run(["umount", str(probe)], check=True)
        return mounted.returncode == 0
    except FileNotFoundError:
        return False
    finally:
        probe.rmdir()


@contextlib.contextmanager
def small_disk(folder: Path, size_kib: int = 4096) -> Iterator[Path]:
    """`folder` as a tmpfs of `size_kib`; skips the test where it cannot be mounted."""
    if not can_mount():
        pytest.skip("needs root that can mount a tmpfs (CI); the patched-write tests cover the rest")
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def fill(folder: Path) -> Path:
    """Write a filler file in `folder` until its disk is full; remove it to free the space."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as file:
        with contextlib.suppress(OSError):
            while True:
                file.write(b"\0" * 65536)
        with contextlib.suppress(OSError):
            while True:
                file.write(b"\0" * 512)
    return filler


# -- a read-only folder ---------------------------------------------------------------------------------


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """`folder` (and what is under it) made read-only: a read-only bind mount as root, where chmod does
    not bind; else chmod. Skips the test when neither works."""
    if can_mount():
        subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
        subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True)
        try:
            yield folder
        finally:
            subprocess.run(["umount", "-l", str(folder)], check=True)
        return
    if os.geteuid() == 0:
        pytest.skip("root ignores chmod and cannot mount here")
    modes = {path: path.stat().st_mode for path in [folder, *folder.rglob("*")] if path.is_dir()}
    for path in modes:
        path.chmod(0o555)
    try:
        yield folder
    finally:
        for path, mode in modes.items():
            path.chmod(mode)


# -- damaged review stores ----------------------------------------------------------------------------


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])


def _overwrite_page(path: Path, page_number: int, byte: int) -> None:
    data = bytearray(path.read_bytes())
    start = (page_number - 1) * PAGE
    data[start : start + PAGE] = bytes([byte]) * PAGE
    path.write_bytes(bytes(data))


def garbage_in_a_page(path: Path) -> None:
    """A page in the middle of the file: in this store, review_log's rows."""
    _overwrite_page(path, path.stat().st_size // PAGE // 2 + 1, 0xA5)


def garbage_in_an_index_page(path: Path) -> None:
    """The root page of the review log's index by card."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        (root,) = db.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'review_log_by_card'"
        ).fetchone()
    _overwrite_page(path, root, 0x5A)


def garbage_in_the_header(path: Path) -> None:
    """The file's first 100 bytes: SQLite no longer knows the file; the pages are all there."""
    data = bytearray(path.read_bytes())
    data[:100] = b"\x13" * 100
    path.write_bytes(bytes(data))


def drop_review_log(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("DROP TABLE review_log")
        db.commit()


def wal_of_garbage(path: Path) -> None:
    """A write-ahead log that is noise: SQLite must ignore it (its header's checksum fails)."""
    path.with_name(path.name + "-wal").write_bytes(bytes(range(256)) * 160)


DAMAGE: list[Callable[[Path], None]] = [
    truncate,
    garbage_in_a_page,
    garbage_in_an_index_page,
    garbage_in_the_header,
    drop_review_log,
]
