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
    assert "2 decks, 6 notes, 9 cards, 12 reviews imported, 2 skipped, 1 media file copied" in out
    assert "skipped 1 review row: cram in a filtered deck that does not reschedule" in out
    assert "note types cardlab does not know" in err and "Vocab (1 note)" in err
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
    assert code == 0 and "1 deck, 4 notes, 1 media file" in out
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


def _anki_tags(apkg: Path, tmp_path: Path) -> list[str]:
    import sqlite3
    import zipfile

    with zipfile.ZipFile(apkg) as package:
        package.extract("collection.anki2", tmp_path / "unzipped")
    with sqlite3.connect(tmp_path / "unzipped" / "collection.anki2") as db:
        return sorted(tag for (tags,) in db.execute("SELECT tags FROM notes") for tag in tags.split())


def test_a_scaffolded_pack_exports_by_id_and_by_file_its_lab_a_tag(capsys, tmp_path: Path) -> None:  # noqa: ANN001
    """`cardlab pack new` ships a lab: export reads the pack's own labs, as `pack list` does."""
    home = str(tmp_path / "home")
    assert run(capsys, "--home", home, "pack", "new", str(tmp_path / "l5"))[0] == 0
    pack_file = tmp_path / "l5" / "l5.toml"

    code, out, err = run(
        capsys, "--home", home, "export", "csv", str(pack_file), "-o", str(tmp_path / "file.txt")
    )
    assert (code, err) == (0, "") and out == f"wrote {tmp_path / 'file.txt'}: 2 notes\n"
    rows = [line.split("\t") for line in (tmp_path / "file.txt").read_text().splitlines() if line[:1] != "#"]
    assert [(row[0], row[-1]) for row in rows] == [
        ("cardlab:l5:noise-floor", "lab::l5-line"),
        ("cardlab:l5:one-cycle", ""),
    ]

    assert run(capsys, "--home", home, "pack", "add", "--link", str(tmp_path / "l5"))[0] == 0
    for kind, name in (("anki", "id.apkg"), ("csv", "id.txt")):
        code, out, err = run(capsys, "--home", home, "export", kind, "l5", "-o", str(tmp_path / name))
        assert (code, err) == (0, ""), err
    assert out == f"wrote {tmp_path / 'id.txt'}: 2 notes\n"
    assert (tmp_path / "id.txt").read_text() == (tmp_path / "file.txt").read_text()
    assert _anki_tags(tmp_path / "id.apkg", tmp_path) == ["lab::l5-line"]
    code, out, err = run(
        capsys, "--home", home, "export", "anki", str(pack_file), "-o", str(tmp_path / "f.apkg")
    )
    assert (code, err) == (0, "") and out == f"wrote {tmp_path / 'f.apkg'}: 1 deck, 2 notes, 0 media files\n"


def test_a_pack_folder_put_in_the_packs_folder_exports_by_id(capsys, tmp_path: Path) -> None:  # noqa: ANN001
    home = tmp_path / "home"
    assert run(capsys, "--home", str(home), "pack", "new", str(home / "data" / "packs" / "l5"))[0] == 0
    code, out, err = run(capsys, "--home", str(home), "export", "csv", "l5", "-o", str(tmp_path / "id.txt"))
    assert (code, err) == (0, "") and "lab::l5-line" in (tmp_path / "id.txt").read_text()


def test_a_pack_whose_lab_does_not_read_says_why_it_does_not_export(capsys, tmp_path: Path) -> None:  # noqa: ANN001
    home = str(tmp_path / "home")
    assert run(capsys, "--home", home, "pack", "new", str(tmp_path / "l5"))[0] == 0
    lab_toml = tmp_path / "l5" / "labs" / "l5-line" / "lab.toml"
    lab_toml.write_text(lab_toml.read_text().replace("id = ", "id = 5 #"), encoding="utf-8")
    code, out, err = run(
        capsys, "--home", home, "export", "csv", str(tmp_path / "l5" / "l5.toml"), "-o", str(tmp_path / "x")
    )
    assert code == 1 and out == "" and str(lab_toml) in err and 'unknown lab "l5-line"' in err
