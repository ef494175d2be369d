"""Benchmark: the lesson's tabular model on the adult census data. Last line of output: one JSON object.

    python bench/tabular.py --data PATH [--recipe fast|lesson] [--valid lesson|last20] [--bs N --epochs N --lr X]

PATH is fastai's `adult.csv` (validation = rows 800-999, as in the lesson; `--valid last20` uses the last
20% of rows instead) or a folder with UCI `adult.data` + `adult.test` (validation = the test file). Without
`--data`, generated census-like rows (engine.datasets.tabular.make_census, 32,561 rows, last 20% valid).

Lesson columns: cat workclass, education, marital-status, occupation, relationship, race; cont age, fnlwgt,
education-num; procs FillMissing, Categorify, Normalize; layers [200, 100].
Recipes: `lesson` = bs 64, fit(1, 1e-2); `fast` (default) = bs 512, fit_one_cycle(3, 1e-2).
The fast recipe was bs 512, fit_one_cycle(1, 2e-2), picked on the lesson's 200-row split: one epoch of 51
steps leaves the model under-trained (training loss 0.45 against 0.35 after 3 epochs) and held-out accuracy
at 0.836 on adult.test. Epochs {1..4} x lr {1e-2, 2e-2, 4e-2} x bs {256, 512} x wd {0.01, 0.1}, 3 seeds
each, were scored on a tuning split carved from adult.csv's training rows only (fit on the first 64% of the
file, score rows 64-80%; the last 20%, `--valid last20`, never seen): accuracy rises from 0.822 (the old
recipe) to a plateau of 0.833-0.834 from 3 epochs on; the cheapest best point is the recipe above. On the
held-out last 20% it then scored 0.8438 +- 0.0004 over seeds 0-4 (the old recipe 0.8404 +- 0.0011).
train_cpu_s is the process CPU time of training: on a busy shared machine it estimates an idle machine's wall
time at --threads 1. JSON keys: valid_acc, train_s, total_s, epochs, bs, lr (+ recipe, data, n_valid, n_train,
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

import pandas as pd  # noqa: E402
import torch  # noqa: E402

from bench._fit_threads import FitThreads  # noqa: E402
from engine.datasets.tabular import (  # noqa: E402
    ADULT_CAT_NAMES,
    ADULT_CONT_NAMES,
    make_census,
    read_adult_csv,
    read_uci_adult,
)
from engine.metrics import accuracy  # noqa: E402
from engine.tabular import Categorify, FillMissing, Normalize, tabular_data, tabular_learner  # noqa: E402
from engine.utils import set_seed  # noqa: E402

RECIPES = {
    "lesson": {"bs": 64, "epochs": 1, "lr": 1e-2, "one_cycle": False},
    "fast": {"bs": 512, "epochs": 3, "lr": 1e-2, "one_cycle": True},
}


def load(data: str | None, valid: str) -> tuple[pd.DataFrame, list[int], list[int], str]:
    """The frame, train and valid positions, and a short name of the protocol."""
    if data is None:
        df = make_census(n_rows=32_561, seed=0)
        cut = int(len(df) * 0.8)
        return df, list(range(cut)), list(range(cut, len(df))), "generated census, last 20%"
    path = Path(data)
    if path.is_dir():
        train, test = read_uci_adult(path)
        df = pd.concat([train, test], ignore_index=True)
        return df, list(range(len(train))), list(range(len(train), len(df))), "UCI adult.data -> adult.test"
    df = read_adult_csv(path)
    if valid == "last20":
        cut = int(len(df) * 0.8)
        return df, list(range(cut)), list(range(cut, len(df))), "adult.csv, last 20%"
    valid_idx = list(range(800, 1000))
    return df, [i for i in range(len(df)) if not 800 <= i < 1000], valid_idx, "adult.csv, rows 800-999"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="fast")
    parser.add_argument("--valid", choices=["lesson", "last20"], default="lesson")
    parser.add_argument("--bs", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the reference runs use 2)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    recipe = dict(RECIPES[args.recipe])
    recipe.update(
        {k: v for k, v in (("bs", args.bs), ("epochs", args.epochs), ("lr", args.lr)) if v is not None}
    )

    torch.set_num_threads(args.threads)
    set_seed(args.seed)
    df, train_idx, valid_idx, protocol = load(args.data, args.valid)
    data = tabular_data(
        df,
        ADULT_CAT_NAMES,
        ADULT_CONT_NAMES,
        "salary",
        procs=[FillMissing, Categorify, Normalize],
        splits=(train_idx, valid_idx),
        bs=recipe["bs"],
        valid_bs=4096,
        seed=args.seed,
    )
    learn = tabular_learner(data, layers=[200, 100], metrics=accuracy)
    learn.create_opt()  # its one-off torch import (~2 s on a busy machine) counts in total_s, not train_s
    t1, cpu1 = time.perf_counter(), time.process_time()
    fit_threads = FitThreads()
    if recipe["one_cycle"]:
        learn.fit_one_cycle(recipe["epochs"], recipe["lr"], cbs=[fit_threads])
    else:
        learn.fit(recipe["epochs"], recipe["lr"], cbs=[fit_threads])
    train_s, train_cpu_s = time.perf_counter() - t1, time.process_time() - cpu1
    valid_acc = learn.validate()["accuracy"]
    result = {
        "valid_acc": round(valid_acc, 4),
        "train_s": round(train_s, 3),
        "train_cpu_s": round(train_cpu_s, 3),
        "total_s": round(time.perf_counter() - T0, 3),
        "epochs": recipe["epochs"],
        "bs": recipe["bs"],
        "lr": recipe["lr"],
        "recipe": args.recipe,
        "threads": args.threads,
        "fit_threads": fit_threads.threads,
        "openmp": openmp_setting(),
        "one_cycle": recipe["one_cycle"],
        "data": protocol,
        "n_train": len(train_idx),
        "n_valid": len(valid_idx),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
