"""Lab `contiguous-split`: a random validation set against the last period, on time-ordered sales.

The lesson's notebook (fastai 1.x):

    data = (TabularList.from_df(df, cat_names=..., cont_names=..., procs=procs)
            .split_by_idx(valid_idx)            # valid_idx = the last weeks, one contiguous block
            .label_from_df(cols=dep_var, log=True).databunch())
"""

from __future__ import annotations

import numpy as np

from engine.tabular import tabular_data, tabular_learner
from labs._sales import CAT_NAMES, CONT_NAMES, TARGET, last_days, load_sales, rmse, split_future
from labs.context import LabContext

RANDOM_CHOICE = "the random split's"
CONTIGUOUS_CHOICE = "the contiguous split's"


def run(ctx: LabContext) -> dict[str, object]:
    p = ctx.p
    with ctx.stage("data"):
        frame, source = load_sales(ctx.data, p.stores, p.days, ctx.seed)
        history, future = split_future(frame[frame["open"] == 1], p.test_days)
        ctx.text(
            f"{source}; {len(history)} open store-days to learn from, then {len(future)} in the last "
            f"{p.test_days} days: the future, used only to check each validation error. Target: log(1 + sales).",
        )
        contiguous = last_days(history, p.valid_days)
        rng = np.random.default_rng(ctx.seed)
        random_rows = np.sort(rng.choice(len(history), size=len(contiguous), replace=False))

    results = []
    for stage, valid_rows in (("random split", random_rows), ("contiguous split", contiguous)):
        with ctx.stage(stage):
            ctx.reseed()
            ctx.curve(stage)
            data = tabular_data(history, CAT_NAMES, CONT_NAMES, TARGET, valid_idx=valid_rows, bs=p.bs, seed=ctx.seed)
            y_max = float(history[TARGET].max()) * 1.2
            learn = ctx.watch(tabular_learner(data, layers=[200, 100], y_range=(0.0, y_max), device=ctx.device,
                                              path=ctx.work_dir))  # fmt: skip
            learn.fit_one_cycle(p.epochs, p.lr)
            valid_error = float(np.sqrt(learn.validate()["valid_loss"]))
            future_error = rmse(learn.predict_frame(future)["prediction"].to_numpy(), future[TARGET].to_numpy())
            results.append((stage, valid_error, future_error))

    with ctx.stage("future test"):
        ctx.table(
            "RMSE of log sales: what each validation set promised, and what the future delivered",
            ["validation", "valid RMSE", "future RMSE", "gap"],
            [[name, f"{v:.4f}", f"{f:.4f}", f"{f - v:+.4f}"] for name, v, f in results],
        )
        (_, random_valid, random_future), (_, contiguous_valid, contiguous_future) = results
        ctx.text(
            "Random rows sit between days the model trained on, so it can interpolate; the future offers no "
            "neighbours. A contiguous last period asks the same question the future will.",
            kind="explanation",
        )
    random_gap, contiguous_gap = abs(random_future - random_valid), abs(contiguous_future - contiguous_valid)
    return {
        "random_valid_rmse": round(random_valid, 4),
        "random_future_rmse": round(random_future, 4),
        "contiguous_valid_rmse": round(contiguous_valid, 4),
        "contiguous_future_rmse": round(contiguous_future, 4),
        "outcome": CONTIGUOUS_CHOICE if contiguous_gap <= random_gap else RANDOM_CHOICE,
    }
