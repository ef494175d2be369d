"""One way for labs to write a file atomically (temporary file in the same folder, fsync, rename), shared
with the engine's model files: `engine.utils.write_atomic`, which imports no torch."""

from __future__ import annotations

from pathlib import Path

from engine.utils import write_atomic as _write_atomic


def write_atomic(path: Path, data: bytes | str) -> Path:
    payload = data.encode("utf-8") if isinstance(data, str) else data
    return _write_atomic(path, lambda handle: handle.write(payload))
