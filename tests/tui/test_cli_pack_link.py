"""`cardlab pack add --link`, `--replace` saying "replaced", and `cardlab pack remove`."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cards.discover import discover_packs
from cards.paths import Home
from cards.store import REVIEW, CardRow, Store
from tests.tui.test_cli_pack import ROOT, VALID, run


def cli(capsys: pytest.CaptureFixture[str], home: Path, *argv: str) -> tuple[int, list[str], list[str]]:
    return run(capsys, "--home", str(home), *argv)


def pack_paths(home: Path) -> dict[str, Path]:
    return {pack.id: pack.path for pack in discover_packs(Home.at(home))[0]}


def test_link_reads_the_pack_where_it_is_written(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source, home = tmp_path / "author" / "capitals.toml", tmp_path / "home"
    source.parent.mkdir()
    source.write_text(VALID)
    code, out, err = cli(capsys, home, "pack", "add", "--link", str(source))
    assert (code, err) == (0, [])
    assert out == [f"added (linked) capitals 1.2.0: 3 cards from 2 notes, tags: europe, geo ({source})"]
    assert pack_paths(home)["capitals"] == source  # cards point at the author's file, so `e` shows it
    assert not (home / "data" / "packs" / "capitals.toml").exists()
    links = json.loads((home / "data" / "links.json").read_text())
    assert links == {"links": [{"path": str(source), "packs": ["capitals"]}]}

    source.write_text(VALID.replace('title = "Capitals"', 'title = "Capitals, edited"'))
    [pack] = [pack for pack in discover_packs(Home.at(home))[0] if pack.id == "capitals"]
    assert pack.title == "Capitals, edited"


def test_link_a_folder_and_its_clashes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder, home = tmp_path / "author", tmp_path / "home"
    folder.mkdir()
    (folder / "capitals.toml").write_text(VALID)
    assert cli(capsys, home, "pack", "add", "--link", str(folder))[0] == 0
    code, _, err = cli(capsys, home, "pack", "add", "--link", str(folder / "capitals.toml"))
    assert code == 1 and "already used by your linked pack" in err[0] and "--replace" in err[0]
    code, out, _ = cli(capsys, home, "pack", "add", "--link", "--replace", str(folder / "capitals.toml"))
    assert code == 0 and out[0].startswith("replaced (linked) capitals")
    assert [link["path"] for link in json.loads((home / "data" / "links.json").read_text())["links"]] == [
        str(folder / "capitals.toml")
    ]
    bundled = tmp_path / "lesson.toml"
    bundled.write_text(VALID.replace('id = "capitals"', 'id = "fastai-lesson4"'))
    code, _, err = cli(capsys, home, "pack", "add", "--link", "--replace", str(bundled))
    assert code == 1 and "already used by the bundled pack" in err[0]


def test_replace_says_replaced_and_a_copy_can_become_a_link(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source, home = tmp_path / "capitals.toml", tmp_path / "home"
    source.write_text(VALID)
    assert cli(capsys, home, "pack", "add", str(source))[1][0].startswith("added capitals 1.2.0")
    assert cli(capsys, home, "pack", "add", "--replace", str(source))[1][0].startswith(
        "replaced capitals 1.2.0"
    )
    code, out, _ = cli(capsys, home, "pack", "add", "--link", "--replace", str(source))
    assert code == 0 and out[0].startswith("replaced (linked) capitals")
    assert not (home / "data" / "packs" / "capitals.toml").exists(), "the old copy would clash with the link"
    assert pack_paths(home)["capitals"] == source


def test_a_vanished_link_is_a_problem_not_a_crash(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source, home = tmp_path / "capitals.toml", tmp_path / "home"
    source.write_text(VALID)
    cli(capsys, home, "pack", "add", "--link", str(source))
    source.unlink()
    code, out, err = cli(capsys, home, "pack", "list")
    assert code == 1 and not any("capitals" in line for line in out)
    assert err == [
        f"{source}:1: the linked pack capitals is gone (moved or deleted): link it again with "
        "`cardlab pack add --link NEW_PATH --replace`, or forget it with `cardlab pack remove capitals`"
    ]
    (home / "data" / "links.json").write_text("{not json")
    code, _, err = cli(capsys, home, "pack", "list")
    assert code == 1 and err[0].startswith(
        f"{home / 'data' / 'links.json'}:1: the list of linked packs is damaged"
    )


def test_remove_forgets_a_pack_but_keeps_its_history(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    copied, linked, home = tmp_path / "capitals.toml", tmp_path / "author" / "rivers.toml", tmp_path / "home"
    linked.parent.mkdir()
    copied.write_text(VALID)
    linked.write_text(VALID.replace('id = "capitals"', 'id = "rivers"'))
    cli(capsys, home, "pack", "add", str(copied))
    cli(capsys, home, "pack", "add", "--link", str(linked))
    with Store.open(Home.at(home).store_path) as store, store.transaction():
        store.put_card_row(CardRow("capitals", "france", content_hash="h", state=REVIEW))

    code, out, _ = cli(capsys, home, "pack", "remove", "capitals")
    assert code == 0 and out == [f"removed {home / 'data' / 'packs' / 'capitals.toml'}; review history kept"]
    code, out, _ = cli(capsys, home, "pack", "remove", "rivers")
    assert code == 0 and out == [f"forgot the link to {linked}; the files and review history are kept"]
    assert linked.exists() and set(pack_paths(home)) == {"fastai-lesson4"}
    with Store.open(Home.at(home).store_path) as store:
        assert store.card_row("capitals", "france") is not None

    code, _, err = cli(capsys, home, "pack", "remove", "fastai-lesson4")
    assert code == 1 and err == [
        "cardlab pack remove: fastai-lesson4 is a bundled pack: it cannot be removed"
    ]
    code, _, err = cli(capsys, home, "pack", "remove", "nope")
    assert code == 1 and err == ["cardlab pack remove: no pack with id 'nope' (your packs: none)"]


def test_check_watch_checks_again_on_every_save_and_ctrl_c_exits_130(tmp_path: Path) -> None:
    source = tmp_path / "capitals.toml"
    source.write_text(VALID)
    process = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "pack", "check", "--watch", str(source)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # A suite started in the background (`cmd &` in a script) inherits SIGINT ignored, and Python then
        # leaves it ignored: give the watcher Ctrl-C's default, as a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert process.stdout is not None
    output = b""

    def wait_for(text: str) -> None:
        nonlocal output
        deadline = time.monotonic() + 20
        while text.encode() not in output:
            assert time.monotonic() < deadline, output.decode()
            if select.select([process.stdout], [], [], 0.1)[0]:
                output += os.read(process.stdout.fileno(), 65536)

    try:
        wait_for("watching for saves")
        assert output.decode().startswith("capitals 1.2.0: 3 cards")
        source.write_text(VALID.replace('title = "Capitals"', "title = Capitals"))
        wait_for("TOML syntax error")
        assert "saved: checking again" in output.decode()
        source.write_text(VALID.replace('title = "Capitals"', 'title = "Capitals!"'))
        wait_for("checking again\ncapitals 1.2.0")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 130
    finally:
        process.kill()
        process.wait()


def test_a_linked_pack_can_ship_labs_and_be_trusted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder, home = tmp_path / "course", tmp_path / "home"
    assert cli(capsys, home, "pack", "new", str(folder), "--id", "course")[0] == 0
    code, out, _ = cli(capsys, home, "pack", "add", "--link", str(folder))
    assert code == 0 and out[0].startswith("added (linked) course 0.1.0")
    code, out, _ = cli(capsys, home, "pack", "trust", "course")
    assert code == 0 and out[-1] == "trusted course"
    assert any(line.endswith(str(folder / "labs" / "course-line" / "lab.py")) for line in out)
