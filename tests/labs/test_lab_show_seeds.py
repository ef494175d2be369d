"""`cardlab lab show RUN`: a seed comparison as one line per arm with a band; `--per-seed` draws every seed."""

from __future__ import annotations

from pathlib import Path

import pytest

from labs.events import BatchLoss, EpochRow, Finished, seed_series
from labs.runs import save_run
from tests.labs.test_run_state import running_record
from tui.cli import main


def saved_seed_comparison(home: Path) -> str:
    record = running_record(run_id="test-counting-seeds", lab_id="test-counting", seed=42)
    for arm in ("lr 1e-3", "lr 1e-1"):
        for seed in range(5):
            series = seed_series(arm, seed)
            for step in range(1, 21):
                record.apply(
                    BatchLoss(stage="fit", step=step, epoch=0, loss=1 / step + seed / 50, series=series)
                )
            record.apply(EpochRow("fit", 0, 0.1, 0.2 + seed / 100, {"accuracy": 0.9}, 0.1, series=series))
    record.apply(Finished(result={}, seconds=1.0))
    save_run(home / "data" / "runs", record)
    return record.run_id


def test_show_draws_each_arm_once_and_every_seed_on_demand(
    fake_labs: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_id = saved_seed_comparison(tmp_path)
    assert main(["--home", str(tmp_path), "lab", "show", run_id]) == 0
    out = capsys.readouterr().out
    assert "lr 1e-3 (mean of 5 seeds)" in out and "lr 1e-1 (mean of 5 seeds)" in out
    legend = out[out.index("━ lr 1e-3") :].split("┤")[0]
    assert "seed 3" not in legend  # the chart's legend names arms, not seeds
    assert main(["--home", str(tmp_path), "lab", "show", run_id, "--per-seed"]) == 0
    out = capsys.readouterr().out
    legend = out[out.index("━ lr 1e-3") :].split("┤")[0]
    assert all(f"{arm} · seed {seed}" in legend for arm in ("lr 1e-3", "lr 1e-1") for seed in range(5))
    assert "mean of 5 seeds" not in out
