"""`cardlab lab list | run | show`, on the test-only labs (fast) and one real smoke run."""

from __future__ import annotations

from pathlib import Path

import pytest

from labs.runner import LabRun
from labs.runs import list_runs
from labs.verdict_text import NO_CLEAR_ANSWER
from tests.labs.fake_labs import VERDICT_CLAIM
from tui.cli import main
from tui.commands import lab as lab_command


def cardlab(tmp_path: Path, *args: str) -> int:
    return main(["--home", str(tmp_path), *args])


def test_list_names_every_lab(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cardlab(tmp_path, "lab", "list", "--params") == 0
    out = capsys.readouterr().out
    for lab_id in ("lr-find", "ulmfit-classifier", "tabular-time-series"):
        assert lab_id in out
    assert "drop_mult" in out


def test_run_prints_the_epoch_table_and_chart_then_saves(fake_labs: None, capsys, tmp_path: Path) -> None:
    assert cardlab(tmp_path, "lab", "run", "test-counting", "--preset", "smoke", "--set", "steps=12") == 0
    out = capsys.readouterr().out
    assert "train_loss" in out and "accuracy" in out  # the epoch table
    assert "━ train" in out and "┤" in out  # the chart
    assert "Will the loss go down?" in out and "down" in out
    (record,) = list_runs(Path(tmp_path) / "data" / "runs")
    assert record.status == "finished" and record.params["steps"] == 12

    assert cardlab(tmp_path, "lab", "show") == 0
    assert record.run_id in capsys.readouterr().out
    assert cardlab(tmp_path, "lab", "show", record.run_id) == 0
    shown = capsys.readouterr().out
    assert "steps=12" in shown and "━ train" in shown


def test_a_failing_lab_exits_non_zero_with_its_error(fake_labs: None, capsys, tmp_path: Path) -> None:
    assert cardlab(tmp_path, "lab", "run", "test-failing") == 1
    assert "the lab broke on purpose" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lab", "run", "nope"], "unknown lab 'nope'"),
        (["lab", "run", "colab"], "unknown lab 'colab'; did you mean 'collab'?"),
        (["lab", "run", "test-counting", "--set", "steps=many"], "steps: 'many' is not a valid int"),
        (["lab", "show", "no-such-run"], "no saved run 'no-such-run'"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(fake_labs: None, capsys, tmp_path: Path, args, message) -> None:
    assert cardlab(tmp_path, *args) == 2
    assert message in capsys.readouterr().err


def test_ctrl_c_cancels_the_run_and_exits_130(fake_labs: None, monkeypatch, capsys, tmp_path: Path) -> None:
    def interrupted(run: LabRun, console: object, interrupts: lab_command.CtrlC) -> None:
        interrupts.start()
        raise KeyboardInterrupt

    monkeypatch.setattr(lab_command, "_follow", interrupted)
    assert cardlab(tmp_path, "lab", "run", "test-counting", "--set", "steps=100000") == 130
    (record,) = list_runs(Path(tmp_path) / "data" / "runs")
    assert record.status == "cancelled"


def test_show_says_how_the_run_was_made(fake_labs: None, capsys, tmp_path: Path) -> None:
    assert (
        cardlab(
            tmp_path, "lab", "run", "test-counting", "--preset", "smoke", "--seed", "7", "--set", "steps=3"
        )
        == 0
    )
    (record,) = list_runs(Path(tmp_path) / "data" / "runs")
    capsys.readouterr()
    assert cardlab(tmp_path, "lab", "show", record.run_id) == 0
    assert "preset smoke, seed 7, device auto, data generated" in capsys.readouterr().out


def test_run_and_show_print_the_verdict_and_name_each_curve(fake_labs: None, capsys, tmp_path: Path) -> None:
    assert cardlab(tmp_path, "lab", "run", "test-two-scales") == 0
    out = capsys.readouterr().out
    assert "· general LM" in out and "· review LM" in out  # two curves of one stage, each epoch 0
    assert out.count("└") == 2  # the language model and the classifier on scales of their own
    report = f"Does fine-tuning help?\nthis run: helps\nclaim: {VERDICT_CLAIM}\n→ this run agrees  (effect +0.12 ± 0.03)"
    assert report in out
    (record,) = list_runs(Path(tmp_path) / "data" / "runs")
    assert cardlab(tmp_path, "lab", "show", record.run_id) == 0
    assert report in capsys.readouterr().out


def test_an_inconclusive_run_has_no_clear_answer(fake_labs: None, capsys, tmp_path: Path) -> None:
    assert cardlab(tmp_path, "lab", "run", "test-two-scales", "--set", "verdict=inconclusive") == 0
    out = capsys.readouterr().out
    assert f"this run: {NO_CLEAR_ANSWER}" in out and "→ inconclusive" in out
    assert cardlab(tmp_path, "lab", "show") == 0
    assert NO_CLEAR_ANSWER in " ".join(capsys.readouterr().out.split())  # the line may wrap


def test_rows_of_fits_running_at_once_are_named_under_one_head() -> None:
    """Helper processes train fits at once: their epoch rows interleave, each named when the curve changes,
    under the column heads printed once."""
    from rich.console import Console

    from labs.events import EpochRow
    from tui.commands.lab_output import RunPrinter

    console = Console(record=True, width=100)
    printer = RunPrinter(console)
    for epoch in (0, 1):
        for series in ("suggestion · seed 42", "lowest loss · seed 42"):
            printer.print(
                EpochRow(
                    stage="fits",
                    epoch=epoch,
                    train_loss=1.0,
                    valid_loss=2.0,
                    metrics={},
                    seconds=0.5,
                    series=series,
                )
            )
    lines = console.export_text().splitlines()
    assert [line.strip() for line in lines if line.startswith("·")] == [
        "· suggestion · seed 42",
        "· lowest loss · seed 42",
    ] * 2
    assert sum("train_loss" in line for line in lines) == 1
