"""Trust holds: a pack's lab runs the bytes the user trusted (a snapshot under the home), never an edit.

Each attack of issue 23 writes a marker file if the bypass works; the marker must never exist."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from importlib._bootstrap_external import _code_to_hash_pyc, _code_to_timestamp_pyc  # type: ignore
from pathlib import Path

import pytest

from labs import registry
from tests.tui.test_pack_labs import CODE, run, write_pack

HELPER = 'def word():\n    return "trusted words"\n'
EVIL = "import pathlib\npathlib.Path({marker!r}).write_text('ran')\n"
USES_HELPER = """\
import helper

def run(ctx):
    with ctx.stage("count"):
        ctx.text(helper.word())
    return {"n": 1}
"""
RUN = ("lab", "run", "tiny-lab", "--preset", "smoke", "--no-save")


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    with registry.extra_labs():  # the pack labs a test registers are forgotten after it
        yield


def pack_with_helper(home: Path) -> Path:
    lab = write_pack(home / "data" / "packs").parent / "labs" / "tiny-lab"
    (lab / "lab.py").write_text(USES_HELPER)
    (lab / "helper.py").write_text(HELPER)
    return lab


def evil_pyc(source: Path, marker: Path, hashed: bool) -> None:
    """Bytecode for `source` that Python would take for it, running EVIL instead."""
    code = compile(EVIL.format(marker=str(marker)) + HELPER, str(source), "exec")
    if hashed:  # unchecked: Python never compares it with the source
        data = _code_to_hash_pyc(code, importlib.util.source_hash(source.read_bytes()), checked=False)
    else:  # the source's own mtime and size
        stat = source.stat()
        data = _code_to_timestamp_pyc(code, int(stat.st_mtime), stat.st_size)
    cached = Path(importlib.util.cache_from_source(str(source)))
    cached.parent.mkdir(exist_ok=True)
    cached.write_bytes(bytes(data))


@pytest.mark.parametrize("when", ["shipped before trust", "written after trust"])
def test_bytecode_beside_a_lab_never_runs(capsys, tmp_path: Path, when: str) -> None:
    home, marker = tmp_path / "home", tmp_path / "marker"
    lab = pack_with_helper(home)
    if when == "shipped before trust":
        evil_pyc(lab / "helper.py", marker, hashed=True)
    code, listed, _ = run(capsys, "--home", str(home), "pack", "trust", "tiny-pack")
    assert code == 0
    if when == "written after trust":
        evil_pyc(lab / "helper.py", marker, hashed=False)
    code, out, err = run(capsys, "--home", str(home), *RUN)
    assert (code, marker.exists()) == (0, False), err
    assert "trusted words" in out
    assert ("__pycache__ (bytecode: never run)" in listed) == (when == "shipped before trust")


def test_a_symlinked_folder_is_not_followed(capsys, tmp_path: Path) -> None:
    home, marker, elsewhere = tmp_path / "home", tmp_path / "marker", tmp_path / "elsewhere"
    lab = pack_with_helper(home)
    (elsewhere / "sub").mkdir(parents=True)
    (elsewhere / "sub" / "__init__.py").write_text("")
    (elsewhere / "sub" / "mod.py").write_text("")
    (elsewhere / "outside.py").write_text("")
    (lab / "sub").symlink_to(elsewhere / "sub")
    (lab / "outside.py").symlink_to(elsewhere / "outside.py")
    (lab / "lab.py").write_text("import sub.mod\n" + USES_HELPER)
    code, listed, _ = run(capsys, "--home", str(home), "pack", "trust", "tiny-pack")
    assert code == 0
    (elsewhere / "sub" / "mod.py").write_text(EVIL.format(marker=str(marker)))
    code, out, _ = run(capsys, "--home", str(home), *RUN)
    assert not marker.exists()
    assert code == 1 and "No module named 'sub'" in out  # not in the snapshot: never imported
    assert "a symlinked folder: not followed" in listed and "a symlink leaving" in listed


def test_an_edit_after_the_check_runs_the_trusted_code(capsys, tmp_path: Path, monkeypatch) -> None:
    from labs.runner import LabRun

    home, marker = tmp_path / "home", tmp_path / "marker"
    lab = write_pack(home / "data" / "packs").parent / "labs" / "tiny-lab"
    assert run(capsys, "--home", str(home), "pack", "trust", "tiny-pack")[0] == 0
    start = LabRun.start

    def edit_then_start(self: LabRun) -> LabRun:  # the edit lands after the check, before the import
        (lab / "lab.py").write_text(EVIL.format(marker=str(marker)) + CODE)
        return start(self)

    monkeypatch.setattr(LabRun, "start", edit_then_start)
    code, out, err = run(capsys, "--home", str(home), *RUN)
    assert (code, marker.exists()) == (0, False), err
    assert "counted to 3" in out


def test_the_open_lab_screen_asks_again_when_the_code_changed(tmp_path: Path) -> None:
    from tests.tui.study_helpers import SIZE, fixed_clock, make_home, run_async
    from tui.app import create_app
    from tui.cli import main
    from tui.screens.lab import LabScreen
    from tui.screens.trust import TrustLab

    home, marker = make_home(tmp_path / "home"), tmp_path / "marker"
    lab = write_pack(home.packs_dir).parent / "labs" / "tiny-lab"
    assert main(["--home", str(tmp_path / "home"), "pack", "trust", "tiny-pack"]) == 0
    app = create_app(home, clock=fixed_clock())

    @run_async
    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.action_open_lab("tiny-lab", None)
            await pilot.pause()
            assert isinstance(app.screen, LabScreen)  # trusted: no dialog
            (lab / "lab.py").write_text(EVIL.format(marker=str(marker)) + CODE)
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert isinstance(app.screen, TrustLab)
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, LabScreen) and app.screen.lab_run is None

    scenario()
    assert not marker.exists()


def test_a_pack_reusing_a_trusted_packs_id_is_refused_whole(capsys, tmp_path: Path) -> None:
    home, marker = tmp_path / "home", tmp_path / "marker"
    write_pack(home / "data" / "packs" / "a")
    assert run(capsys, "--home", str(home), "pack", "trust", "tiny-pack")[0] == 0
    evil = write_pack(home / "data" / "packs" / "b", lab_id="evil-lab")
    (evil.parent / "labs" / "evil-lab" / "lab.py").write_text(EVIL.format(marker=str(marker)) + CODE)
    code, out, err = run(capsys, "--home", str(home), "lab", "list")
    assert code == 0 and "evil-lab" not in out and "its labs are not read" in err
    code, _, err = run(capsys, "--home", str(home), "lab", "run", "evil-lab", "--trust", "--no-save")
    assert code == 2 and "unknown lab 'evil-lab'" in err
    code, out, err = run(capsys, "--home", str(home), *RUN)  # the trusted pack's lab still runs
    assert code == 0 and "counted to 3" in out, err
    assert not marker.exists()


def test_a_pack_sorting_first_with_a_trusted_id_is_asked_about(capsys, tmp_path: Path) -> None:
    home, marker = tmp_path / "home", tmp_path / "marker"
    write_pack(home / "data" / "packs" / "b")
    assert run(capsys, "--home", str(home), "pack", "trust", "tiny-pack")[0] == 0
    evil = write_pack(home / "data" / "packs" / "a")
    (evil.parent / "labs" / "tiny-lab" / "lab.py").write_text(EVIL.format(marker=str(marker)) + CODE)
    code, _, err = run(capsys, "--home", str(home), *RUN)
    assert code == 1 and "cardlab pack trust tiny-pack" in err
    assert not marker.exists()


def test_a_pack_lab_never_runs_from_its_pack_folder(tmp_path: Path) -> None:
    from labs.errors import LabError
    from labs.packlabs import register_home_pack_labs
    from labs.runner import LabRun
    from tests.tui.study_helpers import make_home

    home = make_home(tmp_path / "home")
    write_pack(home.packs_dir)
    register_home_pack_labs(home)
    with pytest.raises(LabError, match="runs only from the copy of its code you trusted"):
        LabRun(registry.get_lab("tiny-lab"), preset="smoke")


def test_a_damaged_snapshot_is_rewritten_from_the_trusted_bytes(tmp_path: Path) -> None:
    from labs.packlabs import check_trust, pack_content, register_home_pack_labs, trust_pack
    from labs.registry import get_lab
    from tests.tui.study_helpers import make_home

    home = make_home(tmp_path / "home")
    lab = write_pack(home.packs_dir).parent / "labs" / "tiny-lab"
    register_home_pack_labs(home)
    (lab / "__pycache__").mkdir()
    (lab / "__pycache__" / "lab.cpython-311.pyc").write_bytes(b"not trusted")
    content = pack_content(home, "tiny-pack")
    assert content is not None and not any("__pycache__" in path for path in content.digests)
    root = trust_pack(home, content)
    (root / "tiny-lab" / "lab.py").write_text("raise SystemExit('tampered')\n")
    os.symlink(lab / "__pycache__", root / "tiny-lab" / "__pycache__")
    info = check_trust(home, get_lab("tiny-lab")).info
    assert info is not None and info.folder == root / "tiny-lab"
    assert (root / "tiny-lab" / "lab.py").read_text() == CODE
    assert not (root / "tiny-lab" / "__pycache__").exists()


def test_toml_nested_too_deeply_is_a_problem_not_a_crash(capsys, tmp_path: Path) -> None:
    home = tmp_path / "home"
    deep = "x = " + "[" * 100_000 + "]" * 100_000 + "\n"
    pack = write_pack(home / "data" / "packs" / "a")
    pack.write_text(pack.read_text().replace("[[cards]]", deep + "[[cards]]", 1))
    lab = write_pack(home / "data" / "packs" / "b", lab_id="deep-lab").parent / "labs" / "deep-lab"
    (lab.parent.parent / "tiny.toml").write_text(
        (lab.parent.parent / "tiny.toml").read_text().replace("tiny-pack", "b-pack")
    )
    (lab / "lab.toml").write_text((lab / "lab.toml").read_text() + deep)
    code, _, err = run(capsys, "--home", str(home), "lab", "list")
    assert code == 0 and "Traceback" not in err
    assert f"{lab / 'lab.toml'}:1: invalid TOML: nested too deeply to read" in err
