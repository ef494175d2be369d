"""The cold-start lab's protocol: every arm tuned on the tuning users by its grid with the same epochs, no
verdict when the new users' answers carry nothing, and real files (ML_SAMPLE's CSV, an ml-100k folder)."""

from __future__ import annotations

import random
from functools import partial
from pathlib import Path

from tests.labs._lab_runs import run_lab as _run_lab
from tests.labs.test_lab_smoke import run_checked_smoke

run_lab = partial(_run_lab, "cold-start")  # this file's lab

TINY = {"n_factors": 4, "epochs": 2, "lrs": "0.03,0.1", "l2s": "0.03"}


def ratings_csv(tmp_path: Path, users: int = 40, movies: int = 30, taste: float = 1.0, seed: int = 0) -> Path:
    """ML_SAMPLE's format. Each user has a generosity and a taste for the even movies (scaled by `taste`);
    taste=0 makes every user the same, so a new user's answers say nothing about their other ratings."""
    rng = random.Random(seed)
    lines = ["userId,movieId,rating,timestamp"]
    quality = [rng.gauss(0, 0.7) for _ in range(movies)]
    for user in range(1, users + 1):
        generosity, likes_even = taste * rng.gauss(0, 0.7), taste * rng.gauss(0, 0.8)
        for movie in range(1, movies + 1):
            if rng.random() < 0.7:
                signal = 3.2 + quality[movie - 1] + generosity + (likes_even if movie % 2 else -likes_even)
                rating = min(5.0, max(0.5, round(2 * (signal + rng.gauss(0, 0.6))) / 2))
                lines.append(f"{user},{movie},{rating},{1000 + user * movie}")
    path = tmp_path / "ratings.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_every_arm_is_tuned_on_the_tuning_users_with_the_same_epochs(tmp_path: Path) -> None:
    """On the smoke preset's run (lrs 0.01,0.1, l2s 0.03, 2 epochs), which also makes every lab's smoke
    checks and cold-start's own: one lab run, a child that imports torch, serves both."""
    run, _ = run_checked_smoke("cold-start", tmp_path)
    tuning = run.result["tuning"]
    folded = tuning["sign-up ratings folded in"]
    assert folded["grid"] == [[0.01, 0.03], [0.1, 0.03]] and folded["epochs"] == 2
    assert folded["chosen"][:2] in folded["grid"] and folded["chosen"][2] in folded["lambdas"]
    assert tuning["movie means"]["chosen"] in tuning["movie means"]["grid"]
    assert tuning["sign-up ratings, bias only"]["grid"] == folded["lambdas"]
    meta, plain = (
        tuning["metadata model"],
        tuning["same model, no user metadata"],
    )  # generated data has metadata
    assert meta["grid"] == plain["grid"] == [0.01, 0.1] and meta["epochs"] == plain["epochs"] == 2
    assert run.result["metadata"] is True
    assert {"sign-up ratings folded in", "movie biases", "movie means", "metadata model"} <= set(
        run.result["held_out_mse"]
    )
    mses = run.result["held_out_mse"]  # every arm scored, the metadata arms too (generated data has it)
    assert all(mses[arm] > 0 for arm in ("sign-up ratings folded in", "movie biases", "movie means"))
    assert mses["metadata model"] > 0 and mses["same model, no user metadata"] > 0
    assert "would give movie" in run.predictor("25 F student")


def test_answers_that_carry_nothing_never_win_over_three_seeds(tmp_path: Path) -> None:
    """Every user the same: the answers cannot beat the movies' own biases and means. Folding in noise
    may cost a little ("does not agree" is a true outcome then), but it never "agrees"."""
    path = ratings_csv(tmp_path, taste=0.0)
    run, _ = run_lab(tmp_path, preset="quick", data=str(path), seeds=3, **TINY)
    verdict = run.result["verdict"]
    assert verdict["seeds"] == 3 and verdict["note"] == ""
    assert verdict["agrees"] is not True  # the answers never "win" when they carry nothing


def test_a_ratings_csv_is_real_data_without_the_metadata_arm(tmp_path: Path) -> None:
    path = ratings_csv(tmp_path)
    run, _ = run_lab(tmp_path, data=str(path), **TINY)
    assert run.record.data["source"] == "real" and run.record.data["rows"] > 500
    assert run.result["metadata"] is False and "metadata model" not in run.result["held_out_mse"]


def test_an_ml_100k_folder_adds_the_metadata_arm(tmp_path: Path) -> None:
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    rng = random.Random(1)
    occupations = ["student", "engineer", "writer", "other"]
    (folder / "u.user").write_text(
        "".join(
            f"{u}|{rng.randint(15, 60)}|{rng.choice('MF')}|{rng.choice(occupations)}|0{u:04d}\n"
            for u in range(1, 41)
        )
    )
    flags = ["|".join("1" if g == m % 19 else "0" for g in range(19)) for m in range(1, 31)]
    (folder / "u.item").write_text(
        "".join(f"{m}|Movie {m} (1995)|01-Jan-1995||http://x|{flags[m - 1]}\n" for m in range(1, 31))
    )
    rows = [row.split(",") for row in ratings_csv(tmp_path).read_text().splitlines()[1:]]
    (folder / "u.data").write_text("".join(f"{u}\t{m}\t{round(float(r))}\t{t}\n" for u, m, r, t in rows))
    run, _ = run_lab(tmp_path, data=str(folder), **TINY)
    assert run.record.data["source"] == "real"
    assert run.result["metadata"] is True and "metadata model" in run.result["held_out_mse"]
