"""The collab lab's protocol: fair tuning of both trained arms, no verdict from identical arms, real files."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from labs.events import DataUsed, TableOutput
from tests.labs._lab_runs import run_lab as _run_lab
from tests.labs.test_lab_smoke import run_checked_smoke

run_lab = partial(_run_lab, "collab")  # this file's lab

TINY = {
    "users": 40,
    "items": 50,
    "ratings": 1000,
    "n_factors": 4,
    "epochs": 2,
    "lrs": "0.03,0.1",
    "l2s": "0.03",
}


def test_both_trained_arms_search_the_same_grid_with_the_same_budget(tmp_path: Path) -> None:
    """On the smoke preset's run (lrs 0.01,0.1, l2s 0.03, 2 epochs), which also makes every lab's smoke
    checks and collab's own: one lab run, a child that imports torch, serves both."""
    run, events = run_checked_smoke("collab", tmp_path)
    tuning = run.result["tuning"]
    assert set(tuning) == {"factors + biases", "biases only"}
    factors, biases = tuning["factors + biases"], tuning["biases only"]
    assert factors["grid"] == biases["grid"] == [[0.01, 0.03], [0.1, 0.03]]
    assert factors["epochs"] == biases["epochs"] == 2 and factors["batch_size"] == biases["batch_size"]
    assert factors["chosen"] in factors["grid"] and biases["chosen"] in biases["grid"]
    assert any(isinstance(e, TableOutput) and e.title.startswith("tuning MSE") for e in events)
    assert set(run.result["held_out_mse"]) == {"factors + biases", "biases only", "user + movie means"}
    corner = next(e for e in events if isinstance(e, TableOutput) and "not rated" in e.title)
    assert any(cell == "·" for row in corner.rows for cell in row[1:])
    assert "would give movie" in run.predictor("1 2")


def test_identical_arms_give_no_verdict_over_three_seeds(tmp_path: Path) -> None:
    """n_factors=0: the claimed model is the biases-only model, trained the same way on the same seeds,
    so every paired difference against it is zero; the verdict can never say the factors helped (plain
    means may still beat the biases on tiny data: that is a true "does not agree")."""
    run, _ = run_lab(tmp_path, preset="quick", **{**TINY, "n_factors": 0, "seeds": 3})
    verdict = run.result["verdict"]
    assert verdict["seeds"] == 3 and verdict["note"] == ""
    assert verdict["rivals"]["biases only"]["effect"] == 0
    assert verdict["rivals"]["biases only"]["p_value"] == 1.0  # no difference: never significant
    assert verdict["agrees"] is not True  # a model with no factors cannot show what factors add


def test_a_ratings_csv_in_ml_samples_format_is_real_data(tmp_path: Path) -> None:
    lines = ["userId,movieId,rating,timestamp"]
    for user in range(1, 21):
        for movie in range(1, 31):
            if (user * 7 + movie * 3) % 4:  # three quarters of the cells, so some are empty
                lines.append(f"{user},{movie},{1 + (user + 2 * movie) % 9 / 2},{1000 + user * movie}")
    path = tmp_path / "ratings.csv"
    path.write_text("\n".join(lines) + "\n")
    run, events = run_lab(tmp_path, data=str(path), n_factors=4, epochs=1, lrs="0.1", l2s="0.03")
    assert run.record.data["source"] == "real" and run.record.data["rows"] == len(lines) - 1
    assert any(isinstance(e, DataUsed) and e.source == "real" for e in events)
    corner = next(e for e in events if isinstance(e, TableOutput) and "not rated" in e.title)
    empty = sum(cell == "·" for row in corner.rows for cell in row[1:])
    assert empty > 0 and f"{empty} of" in corner.title  # the corner shows gaps, and says how many
