"""The CLI's top level: every error is one line on stderr and an exit code; a traceback only with --debug."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cards.paths import Home
from tests.cards.test_pack import VALID
from tui.cli import main

ROOT = Path(__file__).resolve().parents[2]


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


@pytest.fixture
def read_only_home(monkeypatch: pytest.MonkeyPatch) -> None:
    def ensure(self: Home) -> Home:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self.data_dir))

    monkeypatch.setattr(Home, "ensure", ensure)


@pytest.mark.usefixtures("read_only_home")
def test_a_read_only_home_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(tmp_path)]) == 1  # the app ensures the home folders
    assert "Read-only file system" in one_line_error(capsys)


def test_a_read_only_packs_folder_on_pack_add_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(tmp_path / "home"))

    monkeypatch.setattr(Path, "mkdir", refuse)
    source = tmp_path / "mine.toml"
    source.write_text(VALID.replace('lab = "maps"\n', ""))
    assert main(["--home", str(tmp_path / "home"), "pack", "add", str(source)]) == 1
    assert "Read-only file system" in one_line_error(capsys)


def test_a_pack_id_too_long_for_a_file_name_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "long.toml"
    source.write_text(VALID.replace('lab = "maps"\n', "").replace('id = "capitals"', f'id = "{"a" * 300}"'))
    assert main(["--home", str(tmp_path / "home"), "pack", "add", str(source)]) == 1
    line = one_line_error(capsys)
    assert "File name too long" in line and len(line) < 300


def test_ctrl_c_is_one_line_and_exit_130(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr("tui.commands.study.open_app", interrupted)
    assert main(["--home", str(tmp_path)]) == 130
    assert one_line_error(capsys) == "cardlab: interrupted\n"


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> int:
        raise ValueError("bad value")

    monkeypatch.setattr("tui.commands.study.open_app", broken)
    assert main(["--home", str(tmp_path)]) == 1
    assert "internal error: ValueError: bad value (run with --debug" in one_line_error(capsys)
    with pytest.raises(ValueError):
        main(["--debug", "--home", str(tmp_path)])


def test_stats_into_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "tui.cli", "--home", str(tmp_path), "stats", "--json"]
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # like `| head` exiting before cardlab writes
    err = child.stderr.read().decode()
    assert child.wait(timeout=60) == 141
    assert err == "", err
