"""Saved runs that are damaged, and a disk that is full: a clear line, never a traceback or a stray file."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from engine.utils import write_atomic
from labs.runs import RUN_FILE, RunRecord, list_runs, previous_run, save_run, scan_runs
from tui.cli import main


def record(run_id: str = "20260101-000000-test-counting-abcd", **changes: object) -> RunRecord:
    base = RunRecord(
        run_id=run_id,
        lab_id="test-counting",
        preset="smoke",
        params={"steps": 3},
        device="cpu",
        seed=1,
        data=None,
        started="2026-01-01T00:00:00Z",
        status="cancelled",
        seconds=1.5,
        epochs=[
            {
                "stage": "count",
                "epoch": 0,
                "train_loss": 0.5,
                "valid_loss": None,
                "metrics": {"accuracy": 0.75},
                "seconds": 0.1,
                "series": "train",
                "at": 1.0,
            }
        ],
        curves={"train": [(1, 1.0), (2, 0.5)]},
        lr_finder=[(1e-3, 2.0)],
        events=[{"type": "StageStarted", "name": "count", "index": 0, "at": 0.1}],
    )
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def write_raw(runs_dir: Path, run_id: str, data: object) -> Path:
    folder = runs_dir / run_id
    folder.mkdir(parents=True)
    path = folder / RUN_FILE
    path.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())
    return path


def cardlab(home: Path, *args: str) -> int:
    return main(["--home", str(home), *args])


def test_a_saved_record_reads_back_as_it_was(tmp_path: Path) -> None:
    saved = record()
    save_run(tmp_path, saved)
    (loaded,) = list_runs(tmp_path)
    assert loaded == saved


def damaged(change: dict[str, object] | None = None, drop: str | None = None) -> dict[str, object]:
    data = json.loads(record().to_json())
    data.update(change or {})
    if drop:
        del data[drop]
    return data


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (damaged({"status": None}), "status: expected one of 'running', 'finished'"),
        (damaged({"status": "exploded"}), "status: expected one of"),
        (damaged(drop="lab_id"), "lab_id: missing"),
        (damaged({"seconds": "fast"}), 'seconds: expected a number, got "fast"'),
        (damaged({"seed": True}), "seed: expected an integer, got true"),
        (damaged({"params": []}), "params: expected an object"),
        (damaged({"curves": {"train": [["a", "b"]]}}), "curves.train[0][0]: expected an integer"),
        (damaged({"curves": {"train": [[1]]}}), "curves.train[0]: expected a list of 2 values"),
        (damaged({"epochs": [{"epoch": 0}]}), "epochs[0].stage: missing"),
        (damaged({"events": [{"type": "StageStarted", "name": 3}]}), "events[0].name: expected a string"),
        (damaged({"events": ["x"]}), "events[0]: expected an object"),
        ([1, 2], "not a cardlab run record"),
        (b"{not json", "not JSON"),
        (b"\xff\xfe\x00garbage", "not UTF-8 text"),
    ],
)
def test_a_damaged_record_is_listed_with_its_reason(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, data: object, reason: str
) -> None:
    runs_dir = tmp_path / "data" / "runs"
    good = record("20260102-000000-test-counting-good")
    save_run(runs_dir, good)
    bad_id = "20260103-000000-test-counting-bad0"
    write_raw(runs_dir, bad_id, data)

    records, bad = scan_runs(runs_dir)
    assert [r.run_id for r in records] == [good.run_id]
    assert [b.run_id for b in bad] == [bad_id] and reason in bad[0].reason
    assert previous_run(runs_dir, "test-counting") == good  # the chart's overlay skips it

    assert cardlab(tmp_path, "lab", "runs") == 0
    out = capsys.readouterr().out
    assert good.run_id in out and f"{bad_id}  damaged" in out and reason in " ".join(out.split())
    assert cardlab(tmp_path, "lab", "show", bad_id) == 1
    err = capsys.readouterr().err
    assert f"the saved run {bad_id!r} is damaged" in err and reason in err and "Traceback" not in err


def test_unknown_event_types_from_a_newer_cardlab_are_left_out(tmp_path: Path) -> None:
    data = damaged(
        {"events": [{"type": "Hologram", "x": 1}, {"type": "StageStarted", "name": "a", "index": 0}]}
    )
    write_raw(tmp_path, "20260101-000000-test-counting-new0", data)
    (loaded,) = list_runs(tmp_path)
    assert [event["type"] for event in loaded.events] == ["StageStarted"]


def no_space(*args: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("where", ["write", "fsync"])
def test_a_full_disk_leaves_the_old_file_and_no_temporary(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, where: str
) -> None:
    target = tmp_path / "run.json"
    target.write_text("old")

    def write(handle) -> None:
        handle.write(b"new, partly")
        if where == "write":
            no_space()

    if where == "fsync":
        monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(target, write)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


def test_lab_run_on_a_full_disk_says_the_run_was_not_saved(
    fake_labs: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(os, "fsync", no_space)  # the app's process only: the lab's own writes go on
    code = cardlab(tmp_path, "lab", "run", "test-counting", "--preset", "smoke", "--set", "steps=3")
    err = capsys.readouterr().err
    assert code == 1
    assert "cardlab lab run: the run was not saved:" in err and "No space left on device" in err
    runs_dir = tmp_path / "data" / "runs"
    assert not runs_dir.exists() or list(runs_dir.rglob("*")) == []  # no temporary, no empty folder


@pytest.mark.usefixtures("fake_labs")
def test_lab_runs_tells_runs_apart_by_seed_data_and_changed_parameters(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    runs_dir = tmp_path / "data" / "runs"
    plain = record("20260101-000000-test-counting-aaaa", seed=3, params={"steps": 40, "delay": 0.0})
    changed = record(
        "20260102-000000-test-counting-bbbb",
        seed=4,
        params={"steps": 7, "delay": 0.0},
        data={"source": "real", "name": "x", "rows": 3, "unit": "rows", "note": "", "argument": None},
    )
    save_run(runs_dir, plain)
    save_run(runs_dir, changed)
    assert cardlab(tmp_path, "lab", "runs") == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert "seed 3" in lines[plain.run_id] and "[" not in lines[plain.run_id]
    assert "seed 4" in lines[changed.run_id] and "real" in lines[changed.run_id]
    assert lines[changed.run_id].endswith("[steps=7]")
