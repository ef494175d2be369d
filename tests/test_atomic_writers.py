"""cardlab's two atomic writers give one guarantee. The walls keep `cards` and `engine` apart, so each
package has its own (`cards.files.write_atomic` for packs, config and caches; `engine.utils.write_atomic` for
models, runs and datasets); this test holds both to the same behaviour."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from cards.files import write_atomic as cards_write
from engine.utils import write_atomic as engine_write

Writer = Callable[[Path, bytes], object]


def with_cards(path: Path, data: bytes) -> object:
    return cards_write(path, data)


def with_engine(path: Path, data: bytes) -> object:
    return engine_write(path, lambda handle: handle.write(data))


WRITERS = pytest.mark.parametrize("write", [with_cards, with_engine], ids=["cards", "engine"])


@WRITERS
def test_the_new_file_has_the_mode_a_plain_open_gives(write: Writer, tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        write(tmp_path / "a", b"x")
        (tmp_path / "plain").write_bytes(b"x")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == stat.S_IMODE((tmp_path / "plain").stat().st_mode)
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o644


@WRITERS
def test_data_then_folder_are_synced(write: Writer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        synced.append("folder" if stat.S_ISDIR(os.fstat(descriptor).st_mode) else "file")
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    write(tmp_path / "a", b"data")
    assert synced == ["file", "folder"]


@WRITERS
def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    write: Writer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "a"
    target.write_bytes(b"old")

    def no_rename(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(OSError):
        write(target, b"new")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


@WRITERS
def test_it_replaces_the_file_whole(write: Writer, tmp_path: Path) -> None:
    target = tmp_path / "a"
    target.write_bytes(b"a much longer old content")
    write(target, b"new")
    assert target.read_bytes() == b"new" and sorted(p.name for p in tmp_path.iterdir()) == ["a"]
