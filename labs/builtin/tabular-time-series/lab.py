"""Lab `tabular-time-series`: a tabular model against an RNN, given the same features and the same past.

The lesson's advice (Rossmann): when a row carries what drives the target (store open? promotion?
holiday? day of week?), feed those columns, with features taken from the date, to a tabular model
instead of reaching for an RNN.

    add_datepart(df, "date")                      # year, month, day, day of week, ... as columns
    learn = tabular_learner(data, layers=[200, 100], y_range=y_range)

Both arms read the row's own features (entity, item, date parts) and the entity's past: the tabular
model as summary columns (previous target, rolling mean, count, days since), the RNN as the sequence of
the last `window` rows, each step carrying that row's features and target. Each arm's learning rate is
picked from the same grid on the period before the held-out one; the verdict is the held-out RMSE on
the latest period, paired per seed.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from engine.learner import Learner
from engine.tabular import tabular_data, tabular_learner
from engine.tabular.data import split_loaders
from engine.tabular.learner import get_emb_szs
from engine.tabular.model import sigmoid_range, small_embedding
from labs._experiment import SPLIT_SEED, SeedResults, pick_best
from labs._timeseries import LAG_CONTS, TimeTable, add_lags, history_index, load_table, time_splits
from labs.context import LabContext
from labs.events import seed_series
from labs.verdict import outcome_for

CLAIM = (
    "Given the same features and the same past, a tabular model with date parts and summary columns of "
    "the past predicts the latest period better than an RNN reading that past."
)
LR_GRID = (3e-3, 1e-2, 3e-2)
ARMS = ("tabular", "RNN")
GENERATED = (
    "store sales from make_store_sales: each open day's sales = store level x weekday x promotion x "
    "holiday x competition x season x independent noise, all of it in the row's own columns; no pattern "
    "over time beyond them (no drift), so the past holds nothing either arm could use that the row lacks"
)


class HistoryGRU(nn.Module):
    """A GRU over an entity's last rows (each step: that row's embedded categories, its continuous
    columns, its normalised target and a 'there is a row' flag), joined with the target row's own
    features, then a small head. The tables of every row live in buffers; a batch is row indices."""

    def __init__(
        self,
        emb_szs: list[tuple[int, int]],
        cats: Tensor,
        conts: Tensor,
        targets: Tensor,
        history: Tensor,
        y_range: tuple[float, float],
        hidden: int = 64,
    ) -> None:
        super().__init__()
        self.embeds = nn.ModuleList(small_embedding(n, width) for n, width in emb_szs)
        self.cats: Tensor
        self.conts: Tensor
        self.targets: Tensor
        self.history: Tensor
        n_emb, n_cont = sum(w for _, w in emb_szs), conts.shape[1]
        self.register_buffer("cats", cats)
        self.register_buffer("conts", conts)
        self.register_buffer("targets", targets)
        self.register_buffer("history", history)
        self.rnn = nn.GRU(n_emb + n_cont + 2, hidden, batch_first=True)
        self.head = nn.Sequential(nn.Linear(hidden + n_emb + n_cont, 100), nn.ReLU(), nn.Linear(100, 1))
        self.y_range = y_range

    def _features(self, rows: Tensor) -> Tensor:
        cats = self.cats[rows]
        embedded = [emb(cats[..., i]) for i, emb in enumerate(self.embeds)]
        return torch.cat([*embedded, self.conts[rows]], dim=-1)

    def forward(self, rows: Tensor) -> Tensor:
        past = self.history[rows]  # (batch, window), -1: no row
        present = (past >= 0).float().unsqueeze(-1)
        safe = past.clamp(min=0)
        steps = torch.cat([self._features(safe), self.targets[safe].unsqueeze(-1), present], dim=-1)
        _, last = self.rnn(steps * present)
        out = self.head(torch.cat([last[-1], self._features(rows)], dim=-1)).squeeze(-1)
        return sigmoid_range(out, *self.y_range)


def span(frame: pd.DataFrame, rows: np.ndarray) -> str:
    times = frame["time"].iloc[rows]
    return f"{times.min():%Y-%m-%d} to {times.max():%Y-%m-%d}"


def flat_mse(pred: Tensor, targ: Tensor) -> Tensor:
    return F.mse_loss(pred.reshape(targ.shape), targ)


def run(ctx: LabContext) -> dict[str, object]:
    p = ctx.p
    with ctx.stage("data"):
        table = load_table(ctx.data, p.stores, p.days, SPLIT_SEED, max_rows=p.max_rows)
        earlier, tune, holdout = time_splits(table, p.valid_days, p.valid_pct)
        if min(len(earlier), len(tune), len(holdout)) < 2:
            raise ValueError(
                f"{table.description}: too few rows for a training, a tuning and a held-out period"
            )
        lagged = add_lags(table, p.window)
        history = history_index(table, p.window)
        ctx.report_data(len(table.frame), unit=table.unit, generator="" if table.real else GENERATED)
        frame = table.frame
        ctx.text(
            f"{table.description}. Target: the {table.target}, in time order. Training rows: {len(earlier)} "
            f"({span(frame, earlier)}); tuning period: {len(tune)} ({span(frame, tune)}); held out, the latest period: "
            f"{len(holdout)} ({span(frame, holdout)}). Both models read the row's own columns "
            f"({', '.join(table.cat_names + table.cont_names)}) and the {table.entity}'s last {p.window} "
            f"rows: the tabular model as columns ({', '.join(LAG_CONTS)}), the RNN step by step."
            + ("" if table.real else f" Generated data: {GENERATED}."),
        )
        ctx.table(
            "what the tabular model's row knows",
            ["column", "example"],
            [[c, lagged[c].iloc[len(lagged) // 2]] for c in table.cat_names + table.cont_names + LAG_CONTS],
        )
        trained_rows = np.sort(np.concatenate([earlier, tune]))
        steps_per_fit = p.epochs * math.ceil(len(trained_rows) / p.bs)
        ctx.expect_steps(steps_per_fit * len(ARMS) * (len(LR_GRID) + len(ctx.seeds)))

    def fit(arm: str, train: np.ndarray, valid: np.ndarray, lr: float, seed: int, curve: str) -> float:
        ctx.curve(curve)
        return fit_arm(ctx, arm, table, lagged, history, (train, valid), lr, p.epochs, p.bs, seed)

    chosen: dict[str, float] = {}
    grid_scores: dict[str, dict[float, float]] = {}
    first = ctx.seeds[0]
    results = SeedResults("held-out RMSE", higher_is_better=False)
    for arm in ARMS:
        with ctx.stage("tabular model" if arm == "tabular" else "RNN"):

            def tuning_fit(lr: float, arm: str = arm) -> float:
                return fit(arm, earlier, tune, lr, first, f"{arm} lr {lr:g}")

            def seed_fit(seed: int, arm: str = arm) -> float:
                return fit(arm, trained_rows, holdout, chosen[arm], seed, seed_series(arm, seed))

            tuning = dict(zip(LR_GRID, ctx.run_all(tuning_fit, LR_GRID)))
            chosen[arm], grid_scores[arm] = pick_best(LR_GRID, tuning.__getitem__)
            for rmse in ctx.run_all(seed_fit, ctx.seeds):
                results.add(arm, rmse)
    ctx.table(
        f"tuning: RMSE on the tuning period (trained on the rows before it, seed {first}); each arm keeps its best",
        ["lr", *ARMS],
        [[f"{lr:g}", *(f"{grid_scores[arm][lr]:.4f}" for arm in ARMS)] for lr in LR_GRID]
        + [["chosen", *(f"{chosen[arm]:g}" for arm in ARMS)]],
    )

    with ctx.stage("compare"):
        columns, rows = results.table(ctx.seeds)
        ctx.table(
            f"RMSE of the {table.target} on the held-out latest period ({len(holdout)} {table.unit}), "
            "each arm trained on everything before it with its chosen lr",
            columns,
            rows,
        )
        ctx.text(
            "Both arms saw the same columns and the same past. The tabular model gets the past as a few "
            "columns someone chose; the RNN has to learn what to keep from it, with more weights to fit "
            "from the same rows.",
            kind="explanation",
        )
    verdict = ctx.judge(
        CLAIM, results.differences("tabular", "RNN"), metric=f"held-out RMSE of the {table.target}"
    )
    rnn_choice, tabular_choice = ctx.info.choices
    return {
        "tabular_rmse": round(results.mean("tabular"), 4),
        "rnn_rmse": round(results.mean("RNN"), 4),
        "chosen_lr": chosen,
        "lr_grid": list(LR_GRID),
        "grid_scores": {
            arm: {f"{lr:g}": round(v, 4) for lr, v in s.items()} for arm, s in grid_scores.items()
        },
        "epochs": p.epochs,
        "verdict": verdict.to_dict(),
        "outcome": outcome_for(verdict, tabular_choice, rnn_choice),
    }


def fit_arm(
    ctx: LabContext,
    arm: str,
    table: TimeTable,
    lagged: pd.DataFrame,
    history: np.ndarray,
    split: tuple[np.ndarray, np.ndarray],
    lr: float,
    epochs: int,
    bs: int,
    seed: int,
) -> float:
    """Train `arm` ("tabular" or "RNN") on split[0] for `epochs` at `lr`; its RMSE on split[1]."""
    ctx.reseed(seed)
    make = make_tabular if arm == "tabular" else make_rnn
    learn = ctx.watch(make(ctx, table, lagged, history, split[0], split[1], bs, seed))
    learn.fit_one_cycle(epochs, lr)
    return float(np.sqrt(learn.validate()["valid_loss"]))


def make_tabular(
    ctx: LabContext,
    table: TimeTable,
    lagged: pd.DataFrame,
    history: np.ndarray,
    train: np.ndarray,
    valid: np.ndarray,
    bs: int,
    seed: int,
) -> Learner:
    data = tabular_data(
        lagged,
        table.cat_names,
        table.cont_names + LAG_CONTS,
        "y",
        splits=(train, valid),
        bs=bs,
        seed=seed,
        is_regression=True,
    )
    return tabular_learner(
        data, layers=[200, 100], y_range=table.y_range, device=ctx.device, path=ctx.work_dir
    )


def make_rnn(
    ctx: LabContext,
    table: TimeTable,
    lagged: pd.DataFrame,
    history: np.ndarray,
    train: np.ndarray,
    valid: np.ndarray,
    bs: int,
    seed: int,
) -> Learner:
    """The same row features as the tabular arm (the same procs, fitted on the same training rows)."""
    data = tabular_data(
        table.frame,
        table.cat_names,
        table.cont_names,
        "y",
        splits=(train, valid),
        bs=bs,
        seed=seed,
        is_regression=True,
    )
    processed = data.processor.transform(table.frame)
    y = table.frame["y"].to_numpy(dtype=np.float32)
    mean, std = float(y[train].mean()), float(y[train].std() or 1.0)
    model = HistoryGRU(
        get_emb_szs(data),
        torch.from_numpy(processed.cats).long(),
        torch.from_numpy(processed.conts).float(),
        torch.from_numpy((y - mean) / std),
        torch.from_numpy(history),
        table.y_range,
    )
    # the loaders tabular_data makes, over row numbers: the same steps, in the same order, as the tabular arm
    dls = split_loaders((torch.arange(len(y)), torch.from_numpy(y)), train, valid, bs, seed=seed)
    return Learner(model, dls, flat_mse, device=ctx.device, path=ctx.work_dir)
