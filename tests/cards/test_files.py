"""Every file cardlab writes is replaced whole or not at all (a full disk must not truncate a pack)."""

from __future__ import annotations

import errno
from dataclasses import replace
from pathlib import Path

import pytest

from cards.config import Config, load_config, save_config
from cards.discover import add_pack, pack_cache_dir
from cards.files import write_atomic
from cards.pack import load_pack
from cards.paths import Home
from tests.cards.test_pack import VALID
from tests.faults import fill_the_disk


@pytest.fixture
def disk_fills_up(monkeypatch: pytest.MonkeyPatch) -> None:
    fill_the_disk(monkeypatch)


def only_files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def test_write_atomic_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")
    write_atomic(target, "new text")
    assert target.read_text() == "new text" and only_files(tmp_path) == ["a.txt"]


def test_a_full_disk_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path, disk_fills_up: None) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(OSError) as caught:
        write_atomic(target, "new text, longer than ten bytes")
    assert caught.value.errno == errno.ENOSPC
    assert target.read_text() == "old" and only_files(tmp_path) == ["a.txt"]


def test_pack_add_replace_on_a_full_disk_keeps_the_users_pack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Home.at(tmp_path / "home")
    source = tmp_path / "mine.toml"
    source.write_text(VALID)
    installed = add_pack(home, source)
    source.write_text(VALID.replace('version = "1.2.0"', 'version = "1.3.0"'))
    fill_the_disk(monkeypatch)
    with pytest.raises(OSError):
        add_pack(home, source, replace=True)
    assert installed.read_text() == VALID
    assert only_files(installed.parent) == [installed.name]


def test_config_on_a_full_disk_keeps_the_old_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = Home.at(tmp_path / "home")
    save_config(home, replace(Config(), new_per_day=7))
    fill_the_disk(monkeypatch)
    with pytest.raises(OSError):
        save_config(home, replace(Config(), new_per_day=9))
    monkeypatch.undo()
    assert load_config(home).new_per_day == 7
    assert not [p for p in home.config_dir.rglob("*") if p.name.endswith(".tmp")]


def test_a_cache_on_a_full_disk_is_skipped_and_leaves_no_temporary(
    tmp_path: Path, disk_fills_up: None
) -> None:
    home = Home.at(tmp_path / "home")
    source = tmp_path / "mine.toml"
    source.write_text(VALID)
    cache = pack_cache_dir(home)
    assert load_pack(source, cache_dir=cache).id == "capitals"
    assert not [p for p in cache.rglob("*") if p.is_file()]
