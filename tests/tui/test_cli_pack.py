"""`cardlab pack check|add|list`: output lines and exit codes (0 valid, 1 problems, 2 usage)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from cards.discover import bundled_pack_paths
from tests.cards.test_pack import VALID as VALID_WITH_LAB
from tui.cli import main

VALID = VALID_WITH_LAB.replace('lab = "maps"\n', "")  # the CLI checks lab ids against the real registry

PROBLEM_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+)(?::\d+)?: \S")
ROOT = Path(__file__).resolve().parents[2]

# One of each problem the issue names, each on its own line: duplicate id, missing front, unknown key, wrong type.
BROKEN = (
    VALID.replace('id = "spain-italy"', 'id = "france"')
    .replace('front = "Capital of **France**?"\n', "")
    .replace('source = "atlas, p. 3"', 'sorce = "atlas"')
    .replace('authors = ["Ada"]', "authors = 7")
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], list[str]]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def test_cli_checks_lab_ids_against_the_registry(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "labs.toml"
    path.write_text(VALID_WITH_LAB)
    code, _, err = run(capsys, "pack", "check", str(path))
    assert code == 1 and err[0].startswith(f'{path}:23: unknown lab "maps": ')


def test_check_bundled_pack_prints_its_summary(capsys: pytest.CaptureFixture[str]) -> None:
    [path] = bundled_pack_paths()
    code, out, err = run(capsys, "pack", "check", str(path))
    assert (code, err) == (0, [])
    [line] = out
    assert line.startswith("fastai-lesson4 1.0.0: 15 cards, tags: classifier, cold-start, collab, ")
    assert line.endswith(f"({path})")


def test_check_a_folder_and_the_packs_alias(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "capitals.toml").write_text(VALID)
    code, out, _ = run(capsys, "packs", "check", str(tmp_path))
    assert code == 0
    assert out == [f"capitals 1.2.0: 3 cards from 2 notes, tags: europe, geo ({tmp_path / 'capitals.toml'})"]


def test_broken_pack_gives_one_line_per_problem_and_exit_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN)
    code, out, err = run(capsys, "pack", "check", str(path))
    assert (code, out) == (1, [])
    matches = [PROBLEM_LINE.match(line) for line in err]
    assert all(matches) and {m["file"] for m in matches} == {str(path)}
    assert [int(m["line"]) for m in matches] == [5, 9, 13, 16]
    assert "authors must be an array" in err[0] and 'missing required key "front"' in err[1]
    assert 'did you mean "source"?' in err[2] and 'duplicate card id "france"' in err[3]


def test_syntax_error_and_valid_pack_together(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text(VALID)
    bad.write_text("[pack]\nid = oops\n")
    code, out, err = run(capsys, "pack", "check", str(good), str(bad))
    assert code == 1 and len(out) == 1 and out[0].startswith("capitals 1.2.0")
    assert err == [
        f'{bad}:2:6: TOML syntax error: Invalid value; text must be quoted: key = "text" (""" for several lines)'
    ]


def test_same_pack_id_in_two_files_is_a_problem(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    first.write_text(VALID)
    second.write_text(VALID)
    code, out, err = run(capsys, "pack", "check", str(first), str(second))
    assert code == 1 and len(out) == 1
    assert err == [
        f'{second}:2: pack id "capitals" is already used by {first}:2; '
        "pack ids must be unique (review history is kept per pack id), so rename one of them"
    ]


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "pack", "check", str(tmp_path / "absent.toml"))
    assert code == 2 and err == [
        f"cardlab pack check: error: no such file or folder: {tmp_path / 'absent.toml'}"
    ]
    code, _, err = run(capsys, "pack", "check", str(tmp_path))
    assert code == 2 and "no .toml files" in err[0]
    code, _, err = run(capsys, "pack")
    assert code == 2 and err[0].startswith("usage: cardlab pack")
    with pytest.raises(SystemExit) as exited:
        main(["pack", "check"])
    assert exited.value.code == 2
    assert "the following arguments are required: PATH" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv", [["--help"], ["pack", "--help"], ["pack", "check", "--help"], ["pack", "add", "--help"]]
)
def test_help(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("usage: cardlab")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert re.fullmatch(r"cardlab \S+\n", capsys.readouterr().out)


def test_packs_add_copies_then_refuses_a_clash(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source, home = tmp_path / "mine.toml", tmp_path / "home"
    source.write_text(VALID)
    code, out, _ = run(capsys, "--home", str(home), "packs", "add", str(source))
    installed = home / "data" / "packs" / "capitals.toml"
    assert code == 0 and out == [
        f"added capitals 1.2.0: 3 cards from 2 notes, tags: europe, geo ({installed})"
    ]
    assert installed.read_text() == VALID

    code, _, err = run(capsys, "--home", str(home), "packs", "add", str(source))
    assert code == 1 and "pass --replace" in err[0] and err[0].startswith(f"{source}:2: ")
    assert run(capsys, "--home", str(home), "packs", "add", "--replace", str(source))[0] == 0

    code, out, _ = run(capsys, "--home", str(home), "pack", "list")
    assert code == 0 and [line.split(":")[0] for line in out] == ["fastai-lesson4 1.0.0", "capitals 1.2.0"]


def test_packs_add_refuses_invalid_and_missing_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken, home = tmp_path / "broken.toml", tmp_path / "home"
    broken.write_text(BROKEN)
    code, _, err = run(capsys, "--home", str(home), "packs", "add", str(broken))
    assert code == 1 and len(err) == 4 and not (home / "data" / "packs" / "capitals.toml").exists()
    code, _, err = run(capsys, "--home", str(home), "packs", "add", str(tmp_path / "absent.toml"))
    assert code == 2 and "no such file" in err[0]


def test_module_entry_point_prints_the_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tui.cli", "--version"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stdout.startswith("cardlab ")


def test_pack_counts_read_in_the_singular_for_one(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    header = '[pack]\nid = "one"\ntitle = "One"\nversion = "1.0.0"\nauthors = ["t"]\ndescription = "d"\nformat = 1\n'
    cloze = '\n[[cards]]\nid = "c"\ntype = "cloze"\nfront = "{{c1::a}} and {{c2::b}}"\nback = "x"\n'
    basic = '\n[[cards]]\nid = "b"\nfront = "q"\nback = "a"\n'
    (tmp_path / "cloze.toml").write_text(header + cloze)
    (tmp_path / "basic.toml").write_text(header.replace('"one"', '"two"') + basic)
    code, out, _ = run(capsys, "pack", "check", str(tmp_path / "cloze.toml"), str(tmp_path / "basic.toml"))
    assert code == 0
    assert out == [
        f"one 1.0.0: 2 cards from 1 note, tags: none ({tmp_path / 'cloze.toml'})",
        f"two 1.0.0: 1 card, tags: none ({tmp_path / 'basic.toml'})",
    ]
