"""`cardlab import anki|csv` and `cardlab export anki|csv`: summaries, files written, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "anki"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_import_anki_prints_a_summary_and_the_packs_are_studied(capsys, tmp_path: Path) -> None:  # noqa: ANN001
    home = str(tmp_path / "home")
    code, out, err = run(capsys, "--home", home, "import", "anki", str(FIXTURES / "modern.apkg"))
    assert code == 0
    assert "2 decks, 6 notes, 9 cards, 12 reviews imported, 2 skipped, 1 media files copied" in out
    assert "skipped 1 review rows: cram in a filtered deck that does not reschedule" in out
    assert "note types cardlab does not know" in err and "Vocab (1 notes)" in err
    code, out, _ = run(capsys, "--home", home, "pack", "list")
    assert "fixture-lesson-4 1.0.0: 5 cards from 4 notes" in out
    code, out, _ = run(capsys, "--home", home, "import", "anki", str(FIXTURES / "full.colpkg"))
    assert code == 0 and "0 reviews imported" in out and out.count("unchanged") == 2


def test_import_into_a_folder_and_export_both_formats(capsys, tmp_path: Path) -> None:  # noqa: ANN001
    home, into = str(tmp_path / "home"), tmp_path / "decks"
    assert (
        run(capsys, "--home", home, "import", "anki", str(FIXTURES / "legacy.apkg"), "--into", str(into))[0]
        == 0
    )
    pack = into / "fixture-lesson-4" / "fixture-lesson-4.toml"
    assert pack.is_file()
    code, out, _ = run(capsys, "--home", home, "export", "anki", str(pack), "-o", str(tmp_path / "out.apkg"))
    assert code == 0 and "1 decks, 4 notes, 1 media files" in out
    code, out, _ = run(capsys, "--home", home, "export", "csv", str(pack), "-o", str(tmp_path / "out.txt"))
    assert code == 0 and (tmp_path / "out.txt").read_text().startswith("#separator:tab\n")
    code, out, _ = run(
        capsys, "--home", home, "import", "csv", str(tmp_path / "out.txt"), "--into", str(tmp_path / "csv")
    )
    assert code == 0 and "5 cards, written" in out  # the cloze note makes two


def test_errors_are_one_line(capsys, tmp_path: Path) -> None:  # noqa: ANN001
    bad = tmp_path / "bad.apkg"
    bad.write_bytes(b"PK\x03\x04 broken")
    code, out, err = run(capsys, "--home", str(tmp_path / "home"), "import", "anki", str(bad))
    assert code == 1 and out == "" and err.count("\n") == 1 and "not an Anki package" in err
    code, _, err = run(
        capsys, "--home", str(tmp_path / "home"), "export", "anki", "nope", "-o", str(tmp_path / "x.apkg")
    )
    assert code == 1 and "no pack 'nope'" in err
    code, _, err = run(
        capsys, "--home", str(tmp_path / "home"), "import", "csv", str(tmp_path / "missing.csv")
    )
    assert code == 1 and "no such file" in err
