"""The one way cardlab writes a file: all of it or none of it.

A pack, the config or a cache written in place is left truncated by a full disk, a crash or Ctrl-C, and a
truncated pack loses the user's cards. So every write goes to a temporary file in the same folder (a
rename is only atomic within one file system), is flushed to disk, then renamed over the old file.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: str | Path, data: bytes | str, encoding: str = "utf-8") -> None:
    """Replace `path` with `data`. On any failure the old file is intact, the temporary file gone, and the
    error raised (an OSError such as ENOSPC)."""
    path = Path(path)
    payload = data.encode(encoding) if isinstance(data, str) else data
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{os.urandom(4).hex()}.tmp")
    # 0o666 less the umask: the mode a plain open() would give (tempfile.mkstemp would give 0o600).
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        try:
            _write_all(descriptor, payload)
            os.fsync(descriptor)  # the data is on disk before the rename makes it the file
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
    except BaseException:  # KeyboardInterrupt too: never leave the temporary behind
        temporary.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def _write_all(descriptor: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        view = view[os.write(descriptor, view) :]


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable; best effort (not every system can open a folder)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
