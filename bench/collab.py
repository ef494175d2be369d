"""Benchmark: EmbeddingDotBias on MovieLens ratings. Last line of output: one JSON object.

    python bench/collab.py [--data PATH] [--recipe fast|lesson] [--bs N --epochs N --lr X --wd X --emb-l2 X]

PATH is an ml-100k folder (`u.data`) or a ratings CSV (fastai's ML_SAMPLE `ratings.csv`); default: generated
MovieLens-shaped ratings (engine.datasets.movielens.make_movielens: 943 users, 1,682 items, 100,000 ratings).
Protocol: random 10% validation, seed 42; n_factors 40, y_range (0, 5.5); fit_one_cycle.
Recipes: `lesson` = bs 64, fit_one_cycle(5, 5e-3, wd=0.1) (decoupled weight decay);
`fast` (default) = bs 1024, fit_one_cycle(5, 2e-2), wd 0, L2 penalty 0.1 on the embedding rows each batch
uses (EmbeddingL2); smaller data gets a smaller batch (engine.collab.fast_recipe: ML_SAMPLE gets bs 128).
`--cold-start` (needs user/item metadata: generated data or an ml-100k folder) also reports the metadata
model's MSE on 10% held-out users next to the global-mean baseline.
train_cpu_s is the process CPU time of training: on a busy shared machine it estimates an idle machine's wall
time at --threads 1. JSON keys: valid_mse, train_s, total_s, epochs, bs, lr, n_factors (+ wd, emb_l2, data,
fit_threads: the thread counts the training steps ran on, since the engine trains small steps on one;
openmp: the OpenMP wait setting, see bench/_openmp.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

T0 = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._openmp import openmp_setting, sleeping_idle_threads  # noqa: E402

sleeping_idle_threads()  # before torch loads (see bench/_openmp.py)

import torch  # noqa: E402

from bench._fit_threads import FitThreads  # noqa: E402
from engine.collab import LESSON_RECIPE, collab_data, collab_learner, fast_recipe  # noqa: E402
from engine.collab.cold_start import cold_start_data, cold_start_learner  # noqa: E402
from engine.datasets.movielens import MovieLens, make_movielens, read_movielens  # noqa: E402
from engine.utils import set_seed  # noqa: E402

RECIPES = {"fast": fast_recipe, "lesson": lambda n_train: dict(LESSON_RECIPE)}


def cold_start(ml: MovieLens) -> dict[str, float]:
    """Metadata model on 10% held-out users (seed 42) vs. predicting the training mean for them."""
    data = cold_start_data(ml, new_user_pct=0.1, seed=42)
    learn = cold_start_learner(data)
    learn.create_opt()
    t = time.perf_counter()
    learn.fit_one_cycle(5, 1e-2)
    return {
        "cold_start_mse": round(learn.validate()["valid_loss"], 4),
        "cold_start_train_s": round(time.perf_counter() - t, 3),
        "new_users_global_mean_mse": round(data.global_mean_mse(), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="ml-100k folder or ratings CSV (default: generated)")
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="fast")
    parser.add_argument("--bs", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--wd", type=float)
    parser.add_argument("--emb-l2", type=float, dest="emb_l2")
    parser.add_argument("--n-factors", type=int, default=40, dest="n_factors")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the reference runs use 2)")
    parser.add_argument(
        "--seed", type=int, default=0, help="model init / shuffling seed (the split is seed 42)"
    )
    parser.add_argument("--cold-start", action="store_true", help="also fit the metadata model on new users")
    args = parser.parse_args()
    ml = read_movielens(args.data) if args.data else make_movielens(seed=0)
    recipe = RECIPES[args.recipe](len(ml.ratings) - round(0.1 * len(ml.ratings)))
    recipe.update({k: getattr(args, k) for k in recipe if getattr(args, k, None) is not None})

    torch.set_num_threads(args.threads)
    set_seed(args.seed)
    data = collab_data(ml.ratings, valid_pct=0.1, seed=42, bs=recipe["bs"], titles=ml.titles())
    learn = collab_learner(
        data, n_factors=args.n_factors, y_range=(0, 5.5), wd=recipe["wd"], emb_l2=recipe["emb_l2"]
    )
    learn.create_opt()  # its one-off torch import (~2 s on a busy machine) counts in total_s, not train_s
    t1, cpu1 = time.perf_counter(), time.process_time()
    fit_threads = FitThreads()
    learn.fit_one_cycle(recipe["epochs"], recipe["lr"], wd=recipe["wd"], cbs=[fit_threads])
    train_s, train_cpu_s = time.perf_counter() - t1, time.process_time() - cpu1
    valid_mse = learn.validate()["valid_loss"]
    result = {
        "valid_mse": round(valid_mse, 4),
        "train_s": round(train_s, 3),
        "train_cpu_s": round(train_cpu_s, 3),
        "total_s": round(time.perf_counter() - T0, 3),
        "epochs": recipe["epochs"],
        "bs": recipe["bs"],
        "lr": recipe["lr"],
        "n_factors": args.n_factors,
        "wd": recipe["wd"],
        "emb_l2": recipe["emb_l2"],
        "recipe": args.recipe,
        "threads": args.threads,
        "fit_threads": fit_threads.threads,
        "openmp": openmp_setting(),
        "data": args.data or "generated ml-100k shape",
        "n_ratings": len(ml.ratings),
    }
    if args.cold_start:
        result.update(cold_start(ml))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
