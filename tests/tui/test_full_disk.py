"""A really full disk (a small tmpfs; CI runs as root): every write fails with a clear message and
nothing the user had is lost. Where no tmpfs can be mounted, tests/cards/test_files.py covers the same
writes with a patched os.write (SQLite's own writes excepted)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from cards.config import Config, load_config, save_config
from cards.paths import Home
from tests.cards.test_pack import VALID as WITH_A_TEST_LAB
from tests.engine.dataset_archives import ArchiveServer, serving
from tests.faults import fill, small_disk
from tests.tui.test_cli_data import serve
from tui.app import create_app
from tui.cli import main

VALID = WITH_A_TEST_LAB.replace('"maps"', '"tabular"')  # a lab the CLI knows
PADDING = "# more than a full disk has room for\n" * 2000


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with small_disk(tmp_path / "disk", size_kib=4096) as folder:
        yield folder


def cardlab(home: Path, *args: str) -> int:
    return main(["--home", str(home), *args])


def one_clear_line(err: str) -> None:
    assert err.count("\n") == 1 and "Traceback" not in err and "No space left" in err, err


def reviews_in(home: Home) -> int:
    with sqlite3.connect(home.store_path) as db:
        return db.execute("SELECT count(*) FROM review_log").fetchone()[0]


async def answer(home: Home, cards: int) -> list[str]:
    """Answer `cards` cards Good in the app; the notifications it showed."""
    app = create_app(home, pack_filter="fastai-lesson4")
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(cards):
            await pilot.press("space", "3")
            await pilot.pause(0.1)
        return [str(notice.title) + ": " + str(notice.message) for notice in app._notifications]


def test_answering_on_a_full_disk_says_not_saved_and_loses_nothing(disk: Path) -> None:
    home = Home.at(disk / "home").ensure()
    assert asyncio.run(answer(home, 2)) == [] and reviews_in(home) == 2
    filler = fill(disk)
    notices = asyncio.run(answer(home, 1))
    assert any(notice.startswith("Not saved") for notice in notices), notices
    assert reviews_in(home) == 2
    filler.unlink()
    assert asyncio.run(answer(home, 1)) == [] and reviews_in(home) == 3


def test_pack_add_on_a_full_disk_is_one_line_and_leaves_no_temporary(
    disk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "mine.toml"
    source.write_text(VALID + PADDING)
    home = Home.at(disk / "home").ensure()
    fill(disk)
    assert cardlab(disk / "home", "pack", "add", str(source)) != 0
    one_clear_line(capsys.readouterr().err)
    assert [path.name for path in home.packs_dir.iterdir()] == []


def test_pack_add_replace_on_a_full_disk_keeps_the_old_pack(
    disk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "mine.toml"
    source.write_text(VALID)
    assert cardlab(disk / "home", "pack", "add", str(source)) == 0
    (installed,) = Home.at(disk / "home").packs_dir.iterdir()
    source.write_text(VALID.replace('version = "1.2.0"', 'version = "1.3.0"') + PADDING)
    capsys.readouterr()
    fill(disk)
    assert cardlab(disk / "home", "pack", "add", "--replace", str(source)) != 0
    one_clear_line(capsys.readouterr().err)
    assert installed.read_text() == VALID and list(installed.parent.iterdir()) == [installed]


def test_a_config_write_on_a_full_disk_keeps_the_old_config(disk: Path) -> None:
    home = Home.at(disk / "home").ensure()
    save_config(home, replace(Config(), new_per_day=7))
    filler = fill(disk)
    with pytest.raises(OSError, match="No space left"):
        save_config(home, replace(Config(), new_per_day=9, learning_steps_min=tuple(range(1, 400))))
    filler.unlink()
    assert load_config(home).new_per_day == 7
    assert [path.name for path in home.config_dir.iterdir()] == ["config.toml"]


@pytest.fixture
def server() -> Iterator[ArchiveServer]:
    with serving() as state:
        yield state


def test_a_dataset_fetch_on_a_full_disk_is_one_line(
    disk: Path, server: ArchiveServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(server, monkeypatch, "ml-100k")
    Home.at(disk / "home").ensure()
    filler = fill(disk)
    assert cardlab(disk / "home", "data", "fetch", "ml-100k") != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and ("No space left" in err or "disk" in err), err
    filler.unlink()
    assert cardlab(disk / "home", "data", "fetch", "ml-100k") == 0  # the space back, the fetch completes
