"""`bench/quick_labs.py` runs labs as the CLI does, takes real data where a folder of datasets has it, and
ends with one JSON object."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.labs._timeseries_helpers import ratings_csv

ROOT = Path(__file__).resolve().parents[2]


def test_each_lab_reads_the_dataset_of_its_shape_or_says_it_generated_its_data(tmp_path: Path) -> None:
    datasets = tmp_path / "datasets"
    (datasets / "movie_lens_sample").mkdir(parents=True)
    (datasets / "a_notes").mkdir()  # sorts first: its CSV lacks the columns and must be passed over
    (datasets / "a_notes" / "ratings.csv").write_text("not,a,ratings\nfile,at,all\n")
    ratings = ratings_csv(datasets / "movie_lens_sample" / "ratings.csv", rows=240)
    command = [sys.executable, "bench/quick_labs.py", "--labs", "collab,tabular", "--preset", "smoke"]
    command += ["--datasets", str(datasets), "--home", str(tmp_path / "home")]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    collab, tabular = report["runs"]
    assert (collab["lab"], collab["data"]["source"]) == ("collab", "real")
    assert Path(collab["data"]["name"]) == ratings.parent
    assert (tabular["lab"], tabular["data"]["source"]) == ("tabular", "generated")
    assert collab["models_made"] == {} and tabular["models_made"] == {}
    assert report["slowest"]["wall_s"] == max(collab["wall_s"], tabular["wall_s"])
    assert sum(report["counts"].values()) == 2
