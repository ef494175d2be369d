"""Lab `tabular`: FillMissing / Categorify / Normalize on real rows, embeddings, split_by_idx, a prediction.

The lesson's notebook:

    procs = [FillMissing, Categorify, Normalize]
    data = TabularList.from_df(df, cat_names=..., cont_names=..., procs=procs)
                      .split_by_idx(list(range(800, 1000))).label_from_df(cols="salary").databunch()
    learn = tabular_learner(data, layers=[200, 100], metrics=accuracy)
    learn.fit(1, 1e-2)
    learn.predict(df.iloc[0])
"""

from __future__ import annotations

import math

from engine.metrics import accuracy
from engine.tabular import (
    Categorify,
    FillMissing,
    Normalize,
    TabularData,
    TabularLearner,
    get_emb_szs,
    tabular_data,
    tabular_learner,
)
from labs._census import CAT_NAMES, CONT_NAMES, TARGET, load_census, parse_row, show_rows
from labs.context import LabContext
from labs.verdict import judge

CLAIM = "FillMissing replaces a missing value by the training median and adds an is-missing (_na) column."


def run(ctx: LabContext) -> dict[str, object]:
    p = ctx.p
    with ctx.stage("data"):
        df, source = load_census(ctx.data, p.rows, ctx.seed)
        if not 0 <= p.valid_start < p.valid_end <= len(df):
            raise ValueError(
                f"the validation block {p.valid_start}..{p.valid_end} must lie within the {len(df)} rows"
            )
        ctx.text(f"{source}; target column `{TARGET}`.")
        with_holes = df[df[CONT_NAMES].isna().any(axis=1)].head(3)
        ctx.table(
            "rows with missing values (as read)",
            CONT_NAMES + CAT_NAMES[:3],
            show_rows(with_holes, CONT_NAMES + CAT_NAMES[:3]),
        )

    with ctx.stage("procs"):
        data = tabular_data(
            df,
            cat_names=CAT_NAMES,
            cont_names=CONT_NAMES,
            y_name=TARGET,
            procs=[FillMissing, Categorify, Normalize],
            valid_idx=range(p.valid_start, p.valid_end),
            bs=p.bs,
            seed=ctx.seed,
        )
        fill = next(proc for proc in data.processor.procs if isinstance(proc, FillMissing))
        ctx.text(
            "FillMissing learned these medians from the training rows only: "
            + ", ".join(f"{col} {value:g}" for col, value in fill.fill.items())
            + f". Columns with holes in training got an is-missing column: {', '.join(c + '_na' for c in fill.na_cols) or 'none'}.",
            kind="explanation",
        )
        if len(with_holes):
            example = with_holes.iloc[0]
            shown = data.show_processed(example)
            ctx.table(
                "one of those rows after the procs (codes for categories, 0 = #na#; normalised numbers)",
                list(shown.columns),
                shown.itertuples(index=False),
            )

    with ctx.stage("model"):
        layers = [int(size) for size in p.layers.split(",") if size]  # checked: comma-separated ints
        learn = ctx.watch(
            tabular_learner(data, layers=layers, metrics=accuracy, device=ctx.device, path=ctx.work_dir)
        )
        counts = get_emb_szs(data)
        ctx.table(
            "one embedding per categorical column: min(600, round(1.6 * n ** 0.56)) wide",
            ["column", "categories", "embedding size"],
            [[col, n, width] for col, (n, width) in zip(data.cat_names, counts)],
        )
        ctx.text(
            f"{len(data.train_idx)} training rows; validation = rows {p.valid_start} to {p.valid_end - 1} "
            f"(split_by_idx: one contiguous block). Continuous columns go in as they are: {', '.join(data.cont_names)}. "
            f"Hidden layers {layers}.",
            kind="explanation",
        )

    with ctx.stage("train"):
        learn.fit_one_cycle(p.epochs, p.lr)
        metrics = learn.validate()

    with ctx.stage("predict"):
        row = parse_row(p.row)
        ctx.text(describe_prediction(learn, row), title=f"predict({p.row})", kind="prediction")
        ctx.set_predictor(lambda text: describe_prediction(learn, parse_row(text)))
        zero, median, _dropped = ctx.info.choices
        found = missing_value_outcome(data, fill)
        outcome = {"zero": zero, "median": median}.get(found) if found else None
    result: dict[str, object] = {
        "valid_accuracy": round(float(metrics["accuracy"]), 4),
        "valid_loss": round(float(metrics["valid_loss"]), 4),
    }
    # A check of the fitted procs, not a training result: no noise; no holes in training, nothing to check.
    checked = {median: 1.0, None: float("nan")}.get(outcome, -1.0)
    result["verdict"] = judge(CLAIM, checked, 0.0).to_dict()
    result["outcome"] = outcome
    return result


def describe_prediction(learn: TabularLearner, row: dict[str, object]) -> str:
    label, _, probs = learn.predict(row)
    classes = learn.classes or []
    chances = ", ".join(f"{c}: {float(p):.0%}" for c, p in zip(classes, probs))
    notes = f" ({'; '.join(learn.last_notes)})" if learn.last_notes else ""
    return f"{label} ({chances}){notes}"


def missing_value_outcome(data: TabularData, fill: FillMissing) -> str | None:
    """Check, on the fitted procs, what a missing value of a column with holes in training turns into:
    "median" (with an `_na` flag), "zero", or None (nothing to check, or neither)."""
    if not fill.na_cols:
        return None  # no column had holes in training: nothing to show
    column = fill.na_cols[0]
    shown = data.show_processed({column: math.nan})
    value = float(shown[shown.column == column].processed.iloc[0])
    normalize = next(proc for proc in data.processor.procs if isinstance(proc, Normalize))
    median = (fill.fill[column] - normalize.means[column]) / (normalize.stds[column] + normalize.eps)
    flag = shown[shown.column == column + "_na"].meaning
    if math.isclose(value, median, rel_tol=1e-4, abs_tol=1e-4) and len(flag) and bool(flag.iloc[0]):
        return "median"
    return "zero" if abs(value) < 1e-6 else None
