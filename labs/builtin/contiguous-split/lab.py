"""Lab `contiguous-split`: a random validation set against the latest period, on time-ordered rows.

The lesson's notebook (fastai 1.x):

    data = (TabularList.from_df(df, cat_names=..., cont_names=..., procs=procs)
            .split_by_idx(valid_idx)            # valid_idx = the latest rows, one contiguous block
            .label_from_df(cols=dep_var).databunch())

The latest period of the data is "the future": no model trains or validates on it. The history before
it is split twice: a random validation set, and a contiguous one (its latest period, the same size).
Each split trains the same tabular model (its learning rate picked from the same grid by its own
validation error, as a student would) and reports a validation error: the split's promise. Then, as
a student ships it, the model is trained again on all the history with that lr and scored on the
future. Per seed, the claim's effect is how much further the random split's promise lands from its
shipped model's future error than the contiguous split's does.
"""

from __future__ import annotations

import numpy as np

from engine.tabular import TabularLearner, tabular_data, tabular_learner
from labs._experiment import SPLIT_SEED, SeedResults, pick_best
from labs._timeseries import TimeTable, latest, load_table, rmse
from labs.context import LabContext
from labs.events import seed_series
from labs.verdict import outcome_for

CLAIM = (
    "When the model will predict the future, a contiguous latest period as validation estimates its error "
    "on the future better than random rows do."
)
LR_GRID = (3e-3, 1e-2, 3e-2)
ARMS = ("random split", "contiguous split")


def generator_text(drift: float) -> str:
    wander = (
        f"each store's level wanders as a random walk (daily steps of std {drift:g} in log sales, the "
        "`drift` parameter): the change over time that the claim is about, which real sales have and no "
        "column records"
        if drift > 0
        else "no drift (drift=0): nothing changes over time beyond the row's columns"
    )
    return (
        "store sales from make_store_sales (store level x weekday x promotion x holiday x competition x "
        f"season x independent noise); {wander}"
    )


def run(ctx: LabContext) -> dict[str, object]:
    p = ctx.p
    first = ctx.seeds[0]
    with ctx.stage("data"):
        table = load_table(ctx.data, p.stores, p.days, SPLIT_SEED, drift=p.drift, max_rows=p.max_rows)
        history, future, random_rows, contiguous = split_rows(
            table, p.valid_days, p.valid_pct, p.test_days, p.test_pct, SPLIT_SEED
        )
        generated = "" if table.real else generator_text(p.drift)
        ctx.report_data(len(table.frame), unit=table.unit, generator=generated)
        frame = table.frame
        ctx.text(
            f"{table.description}. Target: the {table.target}. The future: the latest {len(future)} "
            f"{table.unit} (from {frame['time'].iloc[future].min():%Y-%m-%d}), never trained or validated on. "
            f"The history before it ({len(history)} {table.unit}) is split twice: {len(random_rows)} random "
            f"rows, or its latest {len(contiguous)} (from {frame['time'].iloc[contiguous].min():%Y-%m-%d}), "
            "as the validation set." + (f" Generated data: {generated}." if generated else ""),
        )
        splits = {
            "random split": (np.setdiff1d(history, random_rows), random_rows),
            "contiguous split": (np.setdiff1d(history, contiguous), contiguous),
        }
        steps = sum(p.epochs * -(-len(train) // p.bs) for train, _ in splits.values())
        ship = p.epochs * -(-len(history) // p.bs) * len(ctx.seeds)
        ctx.expect_steps(steps * (len(LR_GRID) + len(ctx.seeds) - 1) + ship)

    def validate(arm: str, lr: float, seed: int) -> float:
        """The validation RMSE a split reports for a model trained with `lr`: its promise."""
        ctx.curve(f"{arm} lr {lr:g}" if seed == first else seed_series(arm, seed))
        learn = fit_split(ctx, table, splits[arm], lr, p.epochs, p.bs, seed)
        return validation_rmse(learn)

    tuned: dict[str, dict[float, float]] = {arm: {} for arm in ARMS}
    chosen: dict[str, float] = {}
    estimates: dict[str, list[float]] = {}
    for arm in ARMS:
        with ctx.stage(arm):

            def tuning_fit(lr: float, arm: str = arm) -> float:
                return validate(arm, lr, first)

            def seed_fit(seed: int, arm: str = arm) -> float:
                return validate(arm, chosen[arm], seed)

            tuned[arm] = dict(zip(LR_GRID, ctx.run_all(tuning_fit, LR_GRID)))
            chosen[arm], _ = pick_best(LR_GRID, tuned[arm].__getitem__)
            estimates[arm] = [tuned[arm][chosen[arm]], *ctx.run_all(seed_fit, ctx.seeds[1:])]
    ctx.table(
        f"tuning (seed {first}): each split picks its lr by its own validation RMSE, as a student would",
        ["lr", *ARMS],
        [[f"{lr:g}", *(f"{tuned[arm][lr]:.4f}" for arm in ARMS)] for lr in LR_GRID]
        + [["chosen", *(f"{chosen[arm]:g}" for arm in ARMS)]],
    )

    with ctx.stage("future test"):

        def shipped_fit(job: tuple[float, int]) -> float:
            lr, seed = job
            ctx.curve(f"shipped lr {lr:g}", seed=seed)
            learn = fit_split(ctx, table, (history, contiguous), lr, p.epochs, p.bs, seed)
            return future_rmse(learn, table, future)

        # one fit per lr and seed: shared when both splits chose alike
        jobs = [(lr, seed) for lr in dict.fromkeys(chosen[arm] for arm in ARMS) for seed in ctx.seeds]
        shipped = dict(zip(jobs, ctx.run_all(shipped_fit, jobs)))
        gaps = SeedResults("|validation RMSE - future RMSE|", higher_is_better=False)
        rows = []
        for i, seed in enumerate(ctx.seeds):
            cells = []
            for arm in ARMS:
                estimate, actual = estimates[arm][i], shipped[chosen[arm], seed]
                gaps.add(arm, abs(estimate - actual))
                cells.append(f"{estimate:.4f} / {actual:.4f}")
            rows.append([str(seed), *cells])
        ctx.table(
            f"RMSE of the {table.target}: the split's validation estimate / the shipped model (trained on "
            "all the history with the split's lr) on the future",
            ["seed", *ARMS],
            rows,
        )
        columns, gap_rows = gaps.table(ctx.seeds)
        ctx.table("how far each estimate landed from the future error", columns, gap_rows)
        ctx.text(
            "Random rows sit among rows the model trained on (the same days, the same users' sessions), "
            "so it can interpolate; the future offers no such neighbours. A contiguous latest period asks "
            "the question the future will.",
            kind="explanation",
        )
    verdict = ctx.judge(
        CLAIM,
        gaps.differences("contiguous split", "random split"),
        metric=f"how far the validation RMSE of the {table.target} lands from the future RMSE",
    )
    random_choice, contiguous_choice = ctx.info.choices
    return {
        "random_gap": round(gaps.mean("random split"), 4),
        "contiguous_gap": round(gaps.mean("contiguous split"), 4),
        "chosen_lr": chosen,
        "lr_grid": list(LR_GRID),
        "grid_scores": {arm: {f"{lr:g}": round(v, 4) for lr, v in s.items()} for arm, s in tuned.items()},
        "epochs": p.epochs,
        "verdict": verdict.to_dict(),
        "outcome": outcome_for(verdict, contiguous_choice, random_choice),
    }


def fit_split(
    ctx: LabContext,
    table: TimeTable,
    split: tuple[np.ndarray, np.ndarray],
    lr: float,
    epochs: int,
    bs: int,
    seed: int,
) -> TabularLearner:
    """The lab's tabular model on the row's own columns, trained on split[0] (split[1] validates)."""
    ctx.reseed(seed)
    data = tabular_data(
        table.frame,
        table.cat_names,
        table.cont_names,
        "y",
        splits=split,
        bs=bs,
        seed=seed,
        is_regression=True,
    )
    learn = tabular_learner(
        data, layers=[200, 100], y_range=table.y_range, device=ctx.device, path=ctx.work_dir
    )
    ctx.watch(learn).fit_one_cycle(epochs, lr)
    return learn


def validation_rmse(learn: TabularLearner) -> float:
    return float(np.sqrt(learn.validate()["valid_loss"]))


def future_rmse(learn: TabularLearner, table: TimeTable, future: np.ndarray) -> float:
    predicted = learn.predict_frame(table.frame.iloc[future])["prediction"].to_numpy()
    return rmse(predicted, table.frame["y"].to_numpy()[future])


def split_rows(
    table: TimeTable, valid_days: int, valid_pct: float, test_days: int, test_pct: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(history, future, random validation rows, contiguous validation rows): the future is the latest
    period; the contiguous rows are the latest period of the history, the random rows as many drawn
    from all of it (by `seed`, the run's: the same split for every seed of the run)."""
    every = np.arange(len(table.frame))
    future = latest(table, every, test_days, test_pct)
    history = np.setdiff1d(every, future)
    contiguous = latest(table, history, valid_days, valid_pct / (1 - test_pct))
    rng = np.random.default_rng(seed)
    random_rows = np.sort(rng.choice(history, size=len(contiguous), replace=False))
    if len(contiguous) < 2 or len(future) < 2 or len(contiguous) >= len(history) - 1:
        raise ValueError(f"{table.description}: too few rows for a validation period and a future")
    return history, future, random_rows, contiguous
