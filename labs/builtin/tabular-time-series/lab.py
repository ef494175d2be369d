"""Lab `tabular-time-series`: a tabular model with date and store features against an RNN on past sales.

The lesson's advice (Rossmann): when a row carries what drives the sales (store open? promotion?
holiday? day of week? competition?), a tabular model with date features beats an RNN over the series.

    add_datepart(df, "date")                      # year, month, day, day of week, ... as columns
    learn = tabular_learner(data, layers=[1000, 500], y_range=y_range, metrics=exp_rmspe)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from engine.data import DataLoaders, TensorLoader
from engine.learner import Learner
from engine.tabular import tabular_data, tabular_learner
from labs._evidence import rmse_noise, squared_errors
from labs._sales import CAT_NAMES, CONT_NAMES, TARGET, last_days, load_sales
from labs.context import LabContext
from labs.verdict import judge, outcome_for

CLAIM = (
    "When date, store and promotion features exist, a tabular model predicts sales better than an RNN "
    "on past sales alone."
)


class SalesGRU(nn.Module):
    """Reads the last `window` days of log sales and predicts the next day's."""

    def __init__(self, hidden: int = 64) -> None:
        super().__init__()
        self.rnn = nn.GRU(1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, history: Tensor) -> Tensor:
        output, _ = self.rnn(history.unsqueeze(-1))
        return self.head(output[:, -1]).squeeze(-1)


def run(ctx: LabContext) -> dict[str, object]:
    p = ctx.p
    with ctx.stage("data"):
        frame, source = load_sales(ctx.data, p.stores, p.days, ctx.seed)
        open_days = frame[frame["open"] == 1].reset_index(drop=True)
        valid_rows = last_days(open_days, p.valid_days)
        ctx.text(
            f"{source}; both models are validated on the last {p.valid_days} days "
            f"({len(valid_rows)} open store-days). Target: log(1 + sales).",
        )
        ctx.table(
            "what a row knows", ["column", "example"], [[c, frame[c].iloc[3]] for c in CAT_NAMES + CONT_NAMES]
        )

    with ctx.stage("tabular model"):
        ctx.reseed()
        ctx.curve("tabular")
        data = tabular_data(
            open_days, CAT_NAMES, CONT_NAMES, TARGET, valid_idx=valid_rows, bs=p.bs, seed=ctx.seed
        )
        y_range = (0.0, float(open_days[TARGET].max()) * 1.2)
        tabular = ctx.watch(
            tabular_learner(data, layers=[200, 100], y_range=y_range, device=ctx.device, path=ctx.work_dir)
        )
        tabular.fit_one_cycle(p.epochs, p.lr)
        tabular_rmse = float(np.sqrt(tabular.validate()["valid_loss"]))
        tabular_errors = squared_errors(tabular)

    with ctx.stage("RNN"):
        ctx.reseed()
        ctx.curve("RNN")
        dls = window_loaders(frame, p.window, p.valid_days, p.bs, ctx.seed)
        rnn = ctx.watch(Learner(SalesGRU(), dls, flat_mse, device=ctx.device, path=ctx.work_dir))
        rnn.fit_one_cycle(p.epochs, p.lr)
        rnn_rmse = float(np.sqrt(rnn.validate()["valid_loss"]))
        rnn_errors = squared_errors(rnn)

    with ctx.stage("compare"):
        ctx.table(
            f"RMSE of log sales on the last {p.valid_days} days",
            ["model", "sees", "valid RMSE"],
            [
                ["tabular", "store, date parts, promo, holidays, competition", f"{tabular_rmse:.4f}"],
                ["RNN", f"the last {p.window} days of sales", f"{rnn_rmse:.4f}"],
            ],
        )
        ctx.text(
            "The RNN has to infer promotions and holidays from the past, which does not announce them; the "
            "tabular model reads them from the row.",
            kind="explanation",
        )
    verdict = judge(CLAIM, rnn_rmse - tabular_rmse, rmse_noise(tabular_errors, rnn_errors))
    rnn_choice, tabular_choice = ctx.info.choices
    return {
        "tabular_rmse": round(tabular_rmse, 4),
        "rnn_rmse": round(rnn_rmse, 4),
        "verdict": verdict.to_dict(),
        "outcome": outcome_for(verdict, tabular_choice, rnn_choice),
    }


def flat_mse(pred: Tensor, targ: Tensor) -> Tensor:
    return F.mse_loss(pred.reshape(targ.shape), targ)


def window_loaders(frame: pd.DataFrame, window: int, valid_days: int, bs: int, seed: int) -> DataLoaders:
    """(last `window` days of log sales, next day's) for every open store-day with enough history.

    Closed days stay in the inputs as zeros (the series as it happened) but are never a target.
    """
    series = frame.pivot(index="date", columns="store", values=TARGET).fillna(0.0)
    is_open = frame.pivot(index="date", columns="store", values="open").fillna(0).to_numpy(dtype=bool)
    values = series.to_numpy(dtype=np.float32)
    first_valid_day = len(series) - valid_days
    inputs, targets, in_valid = [], [], []
    for day in range(window, len(series)):
        for store in range(values.shape[1]):
            if is_open[day, store]:
                inputs.append(values[day - window : day, store])
                targets.append(values[day, store])
                in_valid.append(day >= first_valid_day)
    if all(in_valid):  # a --data series too short for the window (generated ones are checked in lab.toml)
        raise ValueError(
            f"window={window}: the series has {len(series)} days, too few for {window} days of history "
            f"plus {valid_days} validation days and some to train on"
        )
    x, y = torch.tensor(np.array(inputs)), torch.tensor(np.array(targets))
    valid = torch.tensor(in_valid, dtype=torch.bool)
    generator = torch.Generator().manual_seed(seed)
    train_loader = TensorLoader(x[~valid], y[~valid], batch_size=bs, shuffle=True, generator=generator)
    return DataLoaders(train_loader, TensorLoader(x[valid], y[valid], batch_size=2 * bs))
