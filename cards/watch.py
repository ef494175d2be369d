"""Noticing that pack files were saved, by polling their stat stamps.

Why polling and not `watchfiles` or Textual's `FileMonitor` (measured on this project's machine): cardlab
watches a handful of files, and one `os.stat` costs about 2 µs (`python -m timeit`), so a check every half second is
free; `watchfiles` would add a dependency, a thread and ~8 ms of imports to study start-up, and Textual's
`FileMonitor` only compares the newest mtime of all the files, so it cannot say which pack changed and
misses a save that keeps the mtime (a copy with `cp -p`, an editor restoring a backup). The stamp here is
(size, mtime in ns, inode): an editor that saves by renaming a new file over the old one changes the inode.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

Stamp = tuple[int, int, int] | None  # None: the file is missing or unreadable


def stamp(path: Path) -> Stamp:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_size, info.st_mtime_ns, info.st_ino)


class FileWatch:
    """The files given, and which of them changed (saved, replaced, deleted) since the last check."""

    def __init__(self, paths: Iterable[Path] = ()) -> None:
        self._stamps: dict[Path, Stamp] = {}
        self.add(paths)

    def add(self, paths: Iterable[Path]) -> None:
        """Watch more files; a file already watched keeps the stamp it had."""
        for path in paths:
            self._stamps.setdefault(path, stamp(path))

    @property
    def paths(self) -> list[Path]:
        return list(self._stamps)

    def changed(self) -> list[Path]:
        """The watched files whose stamp differs from the last check, in the order they were added."""
        found = []
        for path, before in self._stamps.items():
            now = stamp(path)
            if now != before:
                self._stamps[path] = now
                found.append(path)
        return found
