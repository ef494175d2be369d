"""A home that really is read-only (a read-only bind mount as root, chmod otherwise): every command and
the app's start-up end in one clear line, and the store is left as it was."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cards.paths import Home
from tests.cards.test_doctor import N, filled_store
from tests.cards.test_pack import VALID
from tests.faults import read_only
from tui.app import StartupError, create_app
from tui.cli import main


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A home with a store of N reviews, read-only for the test."""
    filled_store(Home.at(tmp_path / "home").ensure().store_path)
    with read_only(tmp_path / "home") as folder:
        yield folder


def one_line(capsys: pytest.CaptureFixture[str], *expected: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()[-1:]  # `data fetch` shows its progress bar first
    assert err and err[0].startswith("cardlab: ") and "Traceback" not in err[0], err
    assert any(word in err[0] for word in expected), err
    return err[0]


def test_an_empty_read_only_home_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    with read_only(tmp_path / "empty"):
        for command in (["stats"], []):  # [] starts the app, which makes the home's folders first
            assert main(["--home", str(tmp_path / "empty"), *command]) == 1
            one_line(capsys, "Read-only file system")


@pytest.mark.parametrize(
    "args",
    [["pack", "add", "PACK"], ["data", "fetch", "ml-100k"]],
    ids=lambda args: " ".join(args[:2]),
)
def test_commands_on_a_read_only_home_are_one_line(
    args: list[str], home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = tmp_path / "mine.toml"
    pack.write_text(VALID.replace('lab = "maps"\n', ""))
    args = [str(pack) if arg == "PACK" else arg for arg in args]
    assert main(["--home", str(home), *args]) == 1
    one_line(capsys, "read-only", "Read-only file system", "readonly")


def test_the_store_of_a_read_only_home_is_untouched_and_sound(home: Path, capsys) -> None:
    before = Home.at(home).store_path.read_bytes()
    with pytest.raises(StartupError, match="review store"):
        create_app(Home.at(home))
    assert main(["--home", str(home), "doctor"]) == 0 and "is sound" in capsys.readouterr().out
    assert Home.at(home).store_path.read_bytes() == before and len(before) > N


@pytest.mark.parametrize("args", [["stats", "--json"], ["stats"], ["cards"]], ids=" ".join)
def test_reading_commands_work_on_a_read_only_home(args: list[str], home: Path, capsys) -> None:
    before = Home.at(home).store_path.read_bytes()
    assert main(["--home", str(home), *args]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    if args == ["stats", "--json"]:
        import json

        assert json.loads(out)  # the N reviews, read
    assert Home.at(home).store_path.read_bytes() == before


def test_a_store_of_the_previous_schema_is_read_in_a_read_only_home(tmp_path: Path, capsys) -> None:
    import sqlite3

    path = Home.at(tmp_path / "home").ensure().store_path
    filled_store(path)
    with sqlite3.connect(path) as db:  # as cardlab wrote it before reviews had a source id
        db.execute("DROP INDEX review_log_by_source")
        db.execute("ALTER TABLE review_log DROP COLUMN source_id")
        db.execute("UPDATE schema_version SET version = 2")
    db.close()
    with read_only(tmp_path / "home") as home:
        assert main(["--home", str(home), "stats", "--json"]) == 0, capsys.readouterr().err
