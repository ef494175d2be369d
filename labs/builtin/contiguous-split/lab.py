"""Lab `contiguous-split`: a random validation set against the last period, on time-ordered sales.

The lesson's notebook (fastai 1.x):

    data = (TabularList.from_df(df, cat_names=..., cont_names=..., procs=procs)
            .split_by_idx(valid_idx)            # valid_idx = the last weeks, one contiguous block
            .label_from_df(cols=dep_var, log=True).databunch())
"""

from __future__ import annotations

import numpy as np

from engine.tabular import TabularLearner, tabular_data, tabular_learner
from labs._evidence import rmse_noise, squared_errors
from labs._sales import CAT_NAMES, CONT_NAMES, TARGET, last_days, load_sales, rmse, split_future
from labs.context import LabContext
from labs.verdict import judge, outcome_for

CLAIM = (
    "When the model will predict the future, a contiguous last period as validation estimates its error "
    "on the future better than random rows do."
)


def run(ctx: LabContext) -> dict[str, object]:
    p = ctx.p
    with ctx.stage("data"):
        frame, source = load_sales(ctx.data, p.stores, p.days, ctx.seed, drift=p.drift)
        history, future = split_future(frame[frame["open"] == 1], p.test_days)
        ctx.text(
            f"{source}; {len(history)} open store-days to learn from, then {len(future)} in the last "
            f"{p.test_days} days: the future, used only to check what each validation error promised. "
            "Target: log(1 + sales)."
            + (
                f" Each store's level wanders (daily drift {p.drift:g}), as real sales do."
                if ctx.data is None and p.drift
                else ""
            ),
        )
        contiguous = last_days(history, p.valid_days)
        rng = np.random.default_rng(ctx.seed)
        random_rows = np.sort(rng.choice(len(history), size=len(contiguous), replace=False))

    def fit(name: str, splits: tuple[np.ndarray, np.ndarray]) -> TabularLearner:
        ctx.reseed()
        ctx.curve(name)
        data = tabular_data(history, CAT_NAMES, CONT_NAMES, TARGET, splits=splits, bs=p.bs, seed=ctx.seed)
        y_max = float(history[TARGET].max()) * 1.2
        learn = ctx.watch(
            tabular_learner(
                data, layers=[200, 100], y_range=(0.0, y_max), device=ctx.device, path=ctx.work_dir
            )
        )
        learn.fit_one_cycle(p.epochs, p.lr)
        return learn

    every_row = np.arange(len(history))
    estimates = {}
    errors: dict[str, list[float]] = {}
    for stage, valid_rows in (("random split", random_rows), ("contiguous split", contiguous)):
        with ctx.stage(stage):
            learn = fit(stage, (np.setdiff1d(every_row, valid_rows), valid_rows))
            estimates[stage] = float(np.sqrt(learn.validate()["valid_loss"]))
            errors[stage] = squared_errors(learn)

    with ctx.stage("future test"):
        # What the student would ship: the same model trained on all the history, scored on the future.
        final = fit("all history", (every_row, contiguous))
        predicted = final.predict_frame(future)["prediction"].to_numpy()
        future_error = rmse(predicted, future[TARGET].to_numpy())
        future_errors = ((predicted - future[TARGET].to_numpy()) ** 2).tolist()
        ctx.table(
            "RMSE of log sales: each validation set's estimate against the shipped model's error on the future",
            ["validation", "estimate", "future", "estimate off by"],
            [
                [name, f"{v:.4f}", f"{future_error:.4f}", f"{v - future_error:+.4f}"]
                for name, v in estimates.items()
            ],
        )
        ctx.text(
            "Random rows sit between days the model trained on, so it can interpolate; the future offers no "
            "neighbours. A contiguous last period asks the same question the future will.",
            kind="explanation",
        )
    random_valid, contiguous_valid = estimates["random split"], estimates["contiguous split"]
    effect = abs(random_valid - future_error) - abs(contiguous_valid - future_error)
    noise = rmse_noise(errors["random split"], errors["contiguous split"], future_errors)
    verdict = judge(CLAIM, effect, noise)
    random_choice, contiguous_choice = ctx.info.choices
    return {
        "random_valid_rmse": round(random_valid, 4),
        "contiguous_valid_rmse": round(contiguous_valid, 4),
        "future_rmse": round(future_error, 4),
        "verdict": verdict.to_dict(),
        "outcome": outcome_for(verdict, contiguous_choice, random_choice),
    }
