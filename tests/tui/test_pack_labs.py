"""Packs that ship labs: `pack check` reads them torch-free, and their code runs only once trusted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from labs import registry
from tui.cli import main

PACK = """\
[pack]
id = "tiny-pack"
title = "Tiny"
version = "1.0.0"
authors = ["tests"]
description = "A pack with a lab of its own."
format = 1
labs = ["labs/"]

[[cards]]
id = "tiny-card"
front = "Up or down?"
back = "Down."
lab = "{lab_id}"
"""

LAB = """\
id = "{lab_id}"
title = "Tiny lab"
summary = "Counts to three."
steps = ["count"]

[[params]]
name = "n"
type = "int"
default = 3
min = 1
help = "how far to count"
"""

CODE = """\
def run(ctx):
    with ctx.stage("count"):
        ctx.text("counted to " + str(ctx.p.n))
    return {"n": ctx.p.n}
"""


def write_pack(folder: Path, lab_id: str = "tiny-lab", lab: str = LAB) -> Path:
    (folder / "labs" / lab_id).mkdir(parents=True)
    (folder / "labs" / lab_id / "lab.toml").write_text(lab.format(lab_id=lab_id), encoding="utf-8")
    (folder / "labs" / lab_id / "lab.py").write_text(CODE, encoding="utf-8")
    pack = folder / "tiny.toml"
    pack.write_text(PACK.format(lab_id=lab_id), encoding="utf-8")
    return pack


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    with registry.extra_labs():  # the pack labs a test registers are forgotten after it
        yield


def test_pack_check_accepts_a_pack_whose_card_links_its_own_lab(capsys, tmp_path: Path) -> None:
    pack = write_pack(tmp_path)
    code, out, err = run(capsys, "pack", "check", str(pack))
    assert (code, err) == (0, "")
    assert out.startswith("tiny-pack 1.0.0: 1 card,")


def test_pack_check_reports_lab_metadata_problems_with_file_and_line(capsys, tmp_path: Path) -> None:
    pack = write_pack(tmp_path, lab=LAB.replace("default = 3", 'default = "three"'))
    code, _, err = run(capsys, "pack", "check", str(pack))
    assert code == 1
    assert f"{tmp_path / 'labs' / 'tiny-lab' / 'lab.toml'}:9: default: n: expected an integer" in err


def test_lab_ids_are_unique_across_packs_and_builtin_labs(capsys, tmp_path: Path) -> None:
    first = write_pack(tmp_path / "a")
    second = write_pack(tmp_path / "b")
    second.write_text(second.read_text().replace("tiny-pack", "other-pack"))
    code, _, err = run(capsys, "pack", "check", str(first), str(second))
    assert code == 1
    assert (
        f'{tmp_path / "b" / "labs" / "tiny-lab" / "lab.toml"}:1: lab id "tiny-lab" is already used by ' in err
    )
    assert f'the pack "tiny-pack" ({first})' in err
    builtin = write_pack(tmp_path / "c", lab_id="collab")
    code, _, err = run(capsys, "pack", "check", str(builtin))
    assert code == 1 and 'lab id "collab" is already used by a built-in lab' in err


def test_a_pack_lab_runs_only_once_trusted_and_asks_again_when_changed(capsys, tmp_path: Path) -> None:
    home = tmp_path / "home"
    pack = write_pack(home / "data" / "packs")
    code, _, err = run(
        capsys, "--home", str(home), "lab", "run", "tiny-lab", "--preset", "smoke", "--no-save"
    )
    assert code == 1 and "cardlab pack trust tiny-pack" in err and "--trust" in err

    code, out, _ = run(capsys, "--home", str(home), "pack", "trust", "tiny-pack")
    assert code == 0 and "lab.py" in out and "trusted tiny-pack" in out
    assert (home / "data" / "trusted-labs.json").is_file()
    code, out, err = run(
        capsys, "--home", str(home), "lab", "run", "tiny-lab", "--preset", "smoke", "--no-save"
    )
    assert code == 0, err
    assert "counted to 3" in out

    (pack.parent / "labs" / "tiny-lab" / "lab.py").write_text(CODE.replace("three", "3") + "# changed\n")
    code, _, err = run(
        capsys, "--home", str(home), "lab", "run", "tiny-lab", "--preset", "smoke", "--no-save"
    )
    assert code == 1 and "cardlab pack trust tiny-pack" in err
    code, _, err = run(
        capsys, "--home", str(home), "lab", "run", "tiny-lab", "--trust", "--preset", "smoke", "--no-save"
    )
    assert code == 0, err


@pytest.mark.parametrize("answer", ["trust", "cancel"])
def test_the_app_asks_for_trust_with_the_files_before_a_pack_lab_opens(tmp_path: Path, answer: str) -> None:
    from tests.tui.study_helpers import SIZE, fixed_clock, make_home, run_async
    from tui.app import create_app
    from tui.screens.lab import LabScreen
    from tui.screens.trust import TrustLab

    home = make_home(tmp_path / "home")
    write_pack(home.packs_dir)
    app = create_app(home, clock=fixed_clock())

    @run_async
    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.action_open_lab("tiny-lab", None)
            await pilot.pause()
            dialog = app.screen
            assert isinstance(dialog, TrustLab) and dialog.pack_id == "tiny-pack"
            shown = "\n".join(str(static.render()) for static in dialog.query(".file"))
            assert "lab.py" in shown and "lab.toml" in shown
            await pilot.click(f"#{answer}")
            await pilot.pause()
            assert isinstance(app.screen, LabScreen) == (answer == "trust")

    scenario()
    from labs.packlabs import TrustStore, pack_trust

    digest = pack_trust(home, "tiny-pack")[0]
    assert TrustStore(home.data_dir).is_trusted("tiny-pack", digest) == (answer == "trust")


def test_pack_new_passes_check_and_its_lab_runs_once_trusted(capsys, tmp_path: Path) -> None:
    home = tmp_path / "home"
    packs = home / "data" / "packs"
    code, out, _ = run(capsys, "pack", "new", str(packs), "--id", "my-pack")
    assert code == 0 and "my-pack.toml" in out
    code, out, err = run(capsys, "pack", "check", str(packs / "my-pack.toml"))
    assert (code, err) == (0, "") and out.startswith("my-pack 0.1.0: 2 cards")
    argv = ("--home", str(home), "lab", "run", "my-pack-line", "--preset", "smoke", "--no-save")
    assert run(capsys, *argv)[0] == 1
    code, out, err = run(capsys, *argv, "--trust")
    assert code == 0, err
    assert "validation loss" in out
    assert run(capsys, "pack", "new", str(packs), "--id", "my-pack")[0] == 2  # never overwrites


def test_lab_new_writes_a_lab_that_reads_cleanly(capsys, tmp_path: Path) -> None:
    from labs.labdir import builtin_groups, read_lab

    code, out, _ = run(capsys, "lab", "new", str(tmp_path / "labs" / "my-lab"))
    assert code == 0
    info = read_lab(tmp_path / "labs" / "my-lab", builtin_groups())
    assert info.id == "my-lab" and info.resolve("smoke")["points"] == 64
    assert run(capsys, "lab", "new", str(tmp_path / "labs" / "My_Lab"))[0] == 2


def test_pack_check_of_a_pack_with_labs_imports_no_torch(tmp_path: Path) -> None:
    import subprocess
    import sys

    pack = write_pack(tmp_path)
    code = (
        "import sys; from tui.cli import main; rc = main(['pack', 'check', sys.argv[1]]); "
        "print(rc, 'torch' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code, str(pack)], cwd=root, capture_output=True, text=True)
    assert out.stdout.split()[-2:] == ["0", "False"], out.stderr
