"""Lab `tabular`: FillMissing / Categorify / Normalize on census rows, then the card's claim measured:
categorical columns as embeddings against the same columns fed in as integer codes.

The lesson's notebook:

    procs = [FillMissing, Categorify, Normalize]
    data = TabularList.from_df(df, cat_names=..., cont_names=..., procs=procs)
                      .split_by_idx(list(range(800, 1000))).label_from_df(cols="salary").databunch()
    learn = tabular_learner(data, layers=[200, 100], metrics=accuracy)
    learn.fit(1, 1e-2)
    learn.predict(df.iloc[0])

The experiment (the project's protocol): one split for the run (train / tune / held-out, all outside the
lesson's 200-row block, which is reported on its own); two arms that differ only in how the six
categorical columns go in (an embedding each, or the category's code as one normalised number); the same
layers, epochs, batch size and learning-rate grid for both, each arm's rate picked on the tuning split on
the first seed; then every seed trains both arms, and the paired held-out accuracy differences decide.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np
import pandas as pd

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
from engine.utils import load_state_bytes, set_seed, state_bytes
from labs._census import (
    CAT_NAMES,
    CONT_NAMES,
    TARGET,
    codes_as_numbers,
    load_census,
    missingness_rates,
    parse_row,
    show_rows,
    target_rate_by_code,
)
from labs._experiment import SPLIT_SEED, SeedResults, pick_best, three_way_split
from labs.context import LabContext
from labs.verdict import ALPHA, POWER, Verdict, outcome_for, standard_error

CLAIM = (
    "Categorical columns fed in as embeddings (a learned vector per category) beat the same columns fed "
    "in as their integer codes, at the same layers, epochs and learning-rate tuning."
)
EMBEDDINGS, CODES = "embeddings", "integer codes"
ARMS = (EMBEDDINGS, CODES)
PROCS = [FillMissing, Categorify, Normalize]
TUNE_FRACTION = 0.15  # of the rows outside the lesson's block
HOLDOUT_FRACTION = 0.25
GENERATOR = (
    "census rows from engine.datasets.make_census: salary odds rise with education-num and age and jump "
    "for married people and for managerial/professional jobs, whose codes sit mid-list, so no order of "
    "the codes follows them (the structure the claim is about); age, education-num and occupation have "
    "5 % of values missing at random (holes that say nothing about salary)"
)


def lr_grid(lr: float) -> list[float]:
    """The learning rates every arm is tuned over: a third of `lr`, `lr`, three times `lr`."""
    return [lr / 3, lr, lr * 3]


def run(ctx: LabContext) -> dict[str, object]:
    p = ctx.p
    with ctx.stage("data"):
        df, source = load_census(ctx.data, p.rows, SPLIT_SEED)
        ctx.report_data(len(df), unit="rows", generator=GENERATOR)
        block, train_idx, tune_idx, holdout_idx = split_rows(len(df), p.valid_start, p.valid_end)
        positive = str(df[TARGET].value_counts().idxmin())
        ctx.text(
            f"{source}; target column `{TARGET}` ({positive} is {float((df[TARGET] == positive).mean()):.1%} "
            f"of rows). Split once for the whole run (seed {SPLIT_SEED}): {len(train_idx)} training rows, "
            f"{len(tune_idx)} tuning rows (each arm's learning rate is chosen there), {len(holdout_idx)} "
            "held-out rows (only the verdict sees them)"
            + (
                f"; the lesson's validation block, rows {p.valid_start} to {p.valid_end - 1}, is kept out of "
                "all three and reported on its own."
                if len(block)
                else f"; the lesson's block {p.valid_start}..{p.valid_end} lies beyond these rows."
            ),
            kind="explanation",
        )
        with_holes = df[df[CONT_NAMES].isna().any(axis=1)].head(3)
        ctx.table(
            "rows with missing values (as read)",
            CONT_NAMES + CAT_NAMES[:3],
            show_rows(with_holes, CONT_NAMES + CAT_NAMES[:3]),
        )
        train_rows = df.iloc[train_idx]
        ctx.table(
            f"does a hole say anything about salary? share of {positive} among training rows with the value "
            "missing and present",
            ["column", "missing rows", "missing", "present"],
            missingness_rates(train_rows, CONT_NAMES + CAT_NAMES, positive),
        )
        ctx.text(
            "A hole in a categorical column becomes its own category (#na#) in both arms. A hole in a "
            "continuous column gets the training median plus an `_na` column, which can only add "
            "something where the two shares above differ.",
            kind="explanation",
        )

    with ctx.stage("procs"):
        data = tabular_data(
            df,
            cat_names=CAT_NAMES,
            cont_names=CONT_NAMES,
            y_name=TARGET,
            procs=PROCS,
            splits=(np.asarray(train_idx), np.asarray(tune_idx)),
            bs=p.bs,
            seed=ctx.seed,
        )
        fill = next(proc for proc in data.processor.procs if isinstance(proc, FillMissing))
        ctx.text(
            "FillMissing learned these medians from the training rows only: "
            + ", ".join(f"{col} {value:g}" for col, value in fill.fill.items())
            + f". Columns with holes in training got an is-missing column: {', '.join(c + '_na' for c in fill.na_cols) or 'none'}. "
            + describe_missing_value(data, fill),
            kind="explanation",
        )
        if len(with_holes):
            shown = data.show_processed(with_holes.iloc[0])
            ctx.table(
                "one of those rows after the procs (codes for categories, 0 = #na#; normalised numbers)",
                list(shown.columns),
                shown.itertuples(index=False),
            )

    with ctx.stage("model"):
        layers = [int(size) for size in p.layers.split(",") if size]  # checked: comma-separated ints
        counts = get_emb_szs(data)
        ctx.table(
            "arm `embeddings`: one embedding per categorical column, min(600, round(1.6 * n ** 0.56)) wide",
            ["column", "categories", "embedding size"],
            [[col, n, width] for col, (n, width) in zip(data.cat_names, counts)],
        )
        ctx.table(
            "arm `integer codes`: occupation's codes (sorted categories from 1) and the training rows' "
            f"share of {positive}: a code is a position in the alphabet, not a measure of anything",
            ["code", "occupation", "rows", positive],
            target_rate_by_code(train_rows, "occupation", positive),
        )
        ctx.text(
            f"Both arms: hidden layers {layers}, {p.epochs} epoch(s) of fit_one_cycle, batch size {p.bs}, "
            f"each arm's learning rate picked from {format_grid(lr_grid(p.lr))} by tuning-split accuracy on "
            f"the first seed. They differ only in the {len(CAT_NAMES)} categorical columns: embeddings, or one "
            "normalised number per column (its code). Continuous columns and the _na columns go in alike.",
            kind="explanation",
        )
        frames = {EMBEDDINGS: df, CODES: codes_as_numbers(df, train_idx, CAT_NAMES)}
        columns = arm_columns(CAT_NAMES, CONT_NAMES)

        def train(arm: str, seed: int, lr: float) -> TabularLearner:
            cats, conts = columns[arm]
            split = (train_idx, tune_idx)
            return fit_arm(frames[arm], cats, conts, split, seed, lr, p.epochs, p.bs, layers, ctx)

        def restored(arm: str, seed: int, weights: bytes) -> TabularLearner:
            """The model a fit of `arm` on `seed` trained, from the weights it sent back."""
            learn = arm_learner(frames[arm], *columns[arm], (train_idx, tune_idx), seed, p.bs, layers, ctx)
            load_state_bytes(learn.model, weights)
            return learn

        steps_per_fit = max(1, len(train_idx) // p.bs) * p.epochs
        grid = lr_grid(p.lr)
        ctx.expect_steps(steps_per_fit * len(ARMS) * (len(grid) + len(ctx.seeds) - 1))

    with ctx.stage("tune"):
        first = ctx.seeds[0]

        def tuning_fit(choice: tuple[str, float]) -> tuple[float, bytes]:
            arm, lr = choice
            ctx.curve(f"tune · {arm} · lr {lr:.3g}")
            learn = train(arm, first, lr)
            return float(learn.validate()["accuracy"]), state_bytes(learn.model)

        choices = [(arm, lr) for arm in ARMS for lr in grid]
        tuning = dict(zip(choices, ctx.run_all(tuning_fit, choices)))
        chosen: dict[str, float] = {}
        scores: dict[str, dict[float, float]] = {}
        for arm in ARMS:
            accuracy_at = {lr: tuning[arm, lr][0] for lr in grid}
            chosen[arm], scores[arm] = pick_best(grid, accuracy_at.__getitem__, lower_is_better=False)
        ctx.table(
            f"tuning: accuracy on the {len(tune_idx)} tuning rows, seed {first} (the same grid and budget for "
            "each arm; the best is kept)",
            ["learning rate", *ARMS],
            [[f"{lr:.3g}", *(mark(scores[arm][lr], lr == chosen[arm]) for arm in ARMS)] for lr in grid],
        )

    with ctx.stage("compare"):
        results = SeedResults("held-out accuracy", higher_is_better=True)
        on_block = SeedResults("accuracy on the lesson's block", higher_is_better=True)
        last_seed = ctx.seeds[-1]

        def scored(arm: str, learn: TabularLearner) -> tuple[list[float], float | None]:
            """Right/wrong per held-out row, and the accuracy on the lesson's block (None without one)."""
            return correct_on(learn, frames[arm], holdout_idx), (
                accuracy_on(learn, frames[arm], block) if len(block) else None
            )

        Outcome = tuple[list[float], float | None, bytes | None]  # hits, block accuracy, kept weights

        def seed_fit(job: tuple[int, str]) -> Outcome:
            seed, arm = job
            ctx.curve(f"{arm} · seed {seed}")
            learn = train(arm, seed, chosen[arm])
            kept = seed == last_seed and arm == EMBEDDINGS  # the model that answers predictions
            return *scored(arm, learn), state_bytes(learn.model) if kept else None

        # seed `first` at the chosen rate: the tuning fit itself
        first_models = {arm: restored(arm, first, tuning[arm, chosen[arm]][1]) for arm in ARMS}
        outcomes: dict[tuple[int, str], Outcome] = {
            (first, arm): (*scored(arm, first_models[arm]), None) for arm in ARMS
        }
        jobs = [(seed, arm) for seed in ctx.seeds[1:] for arm in ARMS]
        outcomes.update(zip(jobs, ctx.run_all(seed_fit, jobs)))
        row_sums = [0.0] * len(holdout_idx)  # per held-out row: embeddings' hits minus codes', over seeds
        for seed in ctx.seeds:
            for arm in ARMS:
                hits, block_accuracy, _ = outcomes[seed, arm]
                results.add(arm, sum(hits) / len(hits))
                sign = 1.0 if arm == EMBEDDINGS else -1.0
                row_sums = [total + sign * hit for total, hit in zip(row_sums, hits)]
                if block_accuracy is not None:
                    on_block.add(arm, block_accuracy)
        kept_weights = outcomes[last_seed, EMBEDDINGS][2]
        predictor = (
            first_models[EMBEDDINGS]
            if kept_weights is None
            else restored(EMBEDDINGS, last_seed, kept_weights)
        )
        header, rows = results.table(ctx.seeds)
        ctx.table(f"held-out accuracy ({len(holdout_idx)} rows no choice saw), per seed", header, rows)
        if len(block):
            header, rows = on_block.table(ctx.seeds)
            ctx.table(
                f"accuracy on the lesson's block, rows {p.valid_start}-{p.valid_end - 1} ({len(block)} rows: "
                "the lesson's figure was measured on such a block; too few rows to decide anything)",
                header,
                rows,
            )
        by_seeds = ctx.judge(CLAIM, results.differences(EMBEDDINGS, CODES), metric="held-out accuracy")
        row_noise = standard_error([total / len(ctx.seeds) for total in row_sums])
        verdict = with_row_noise(by_seeds, row_noise)
        ctx.text(
            f"embeddings minus integer codes, per seed: {', '.join(f'{d:+.4f}' for d in verdict.per_seed)}. "
            f"Two noises: the spread between seeds (the same rows, other weights and order) gives a "
            f"threshold of {by_seeds.threshold:.4f}; the held-out rows are themselves a sample, whose noise "
            f"on the seed-averaged difference is +-{row_noise:.4f}. The verdict needs the effect to clear "
            f"both together: {verdict.threshold:.4f}. "
            + (
                f"This run could detect differences of about {verdict.min_detectable_effect:.4f} or more."
                if math.isfinite(verdict.min_detectable_effect)
                else "One seed has no spread to judge against."
            ),
            kind="explanation",
        )

    with ctx.stage("predict"):
        learn = predictor
        row = parse_row(p.row)
        ctx.text(describe_prediction(learn, row), title=f"predict({p.row})", kind="prediction")
        ctx.set_predictor(lambda text: describe_prediction(learn, parse_row(text)))

    embeddings_choice, codes_choice = ctx.info.choices[:2]
    result: dict[str, object] = {
        "verdict": verdict.to_dict(),
        "outcome": outcome_for(verdict, embeddings_choice, codes_choice),
        "embeddings_accuracy": round(results.mean(EMBEDDINGS), 4),
        "codes_accuracy": round(results.mean(CODES), 4),
        "chosen_lr": {arm: chosen[arm] for arm in ARMS},
        "tuning": {arm: {f"{lr:.3g}": round(score, 4) for lr, score in scores[arm].items()} for arm in ARMS},
        "holdout_row_noise": round(row_noise, 5),
        "seed_threshold": round(by_seeds.threshold, 5) if math.isfinite(by_seeds.threshold) else None,
        "epochs": p.epochs,
        "split": {
            "train": len(train_idx),
            "tune": len(tune_idx),
            "holdout": len(holdout_idx),
            "block": len(block),
        },
    }
    if len(block):
        result["block_accuracy"] = {arm: round(on_block.mean(arm), 4) for arm in ARMS}
    return result


def arm_columns(cat_names: list[str], cont_names: list[str]) -> dict[str, tuple[list[str], list[str]]]:
    """(categorical, continuous) columns per arm: the codes arm reads the categorical columns, already
    turned into numbers by `codes_as_numbers`, as continuous ones."""
    return {EMBEDDINGS: (cat_names, cont_names), CODES: ([], cont_names + cat_names)}


def fit_arm(
    frame: pd.DataFrame,
    cat_names: list[str],
    cont_names: list[str],
    split: tuple[Sequence[int], Sequence[int]],
    seed: int,
    lr: float,
    epochs: int,
    bs: int,
    layers: list[int],
    ctx: LabContext | None = None,
) -> TabularLearner:
    """One arm's model (`arm_learner`) trained for `epochs` of fit_one_cycle at `lr`."""
    learn = arm_learner(frame, cat_names, cont_names, split, seed, bs, layers, ctx)
    learn.fit_one_cycle(epochs, lr)
    return learn


def arm_learner(
    frame: pd.DataFrame,
    cat_names: list[str],
    cont_names: list[str],
    split: tuple[Sequence[int], Sequence[int]],
    seed: int,
    bs: int,
    layers: list[int],
    ctx: LabContext | None = None,
) -> TabularLearner:
    """One arm's untrained model for `split`'s first part (its second is the learner's validation set, the
    tuning rows): fresh loaders and weights from `seed` alone, so every fit of the run is reproducible."""
    data = tabular_data(
        frame,
        cat_names=cat_names,
        cont_names=cont_names,
        y_name=TARGET,
        procs=PROCS,
        splits=(np.asarray(split[0]), np.asarray(split[1])),
        bs=bs,
        seed=seed,
    )
    set_seed(seed)
    if ctx is None:
        return tabular_learner(data, layers=layers, metrics=accuracy)
    return ctx.watch(
        tabular_learner(data, layers=layers, metrics=accuracy, device=ctx.device, path=ctx.work_dir)
    )


def with_row_noise(verdict: Verdict, row_noise: float) -> Verdict:
    """`verdict` (a paired t-test over seeds, on one fixed held-out set) widened by that set's own sampling
    noise: `row_noise` is the standard error of the seed-averaged per-row difference. The two noises add
    in quadrature, in the threshold (t quantile for the seeds, normal for the rows) and in the minimum
    detectable effect; the verdict stands only if the effect clears the wider threshold. The seeds alone
    measure how much training varies on these very rows; the claim is about rows the model has not seen,
    of which the held-out set is one sample."""
    if not math.isfinite(verdict.threshold) or not math.isfinite(row_noise):
        return verdict
    z, z_power = NormalDist().inv_cdf(1 - ALPHA / 2), NormalDist().inv_cdf(POWER)
    threshold = math.hypot(verdict.threshold, z * row_noise)
    agrees = verdict.agrees if abs(verdict.effect) >= threshold else None
    return dataclasses.replace(
        verdict,
        agrees=agrees,
        noise=math.hypot(verdict.noise, row_noise),
        threshold=threshold,
        min_detectable_effect=math.hypot(verdict.min_detectable_effect, (z + z_power) * row_noise),
        rule=verdict.rule + "; widened by the held-out rows' own sampling noise (added in quadrature)",
    )


def split_rows(n: int, valid_start: int, valid_end: int) -> tuple[list[int], list[int], list[int], list[int]]:
    """(the lesson's block, train, tune, held-out): the block when it lies within the `n` rows, then a
    seeded three-way split of the other rows."""
    block = list(range(valid_start, valid_end)) if 0 <= valid_start < valid_end <= n else []
    rest = [i for i in range(n) if not valid_start <= i < valid_end] if block else list(range(n))
    if len(rest) < 3:
        raise ValueError(f"{len(rest)} rows outside the lesson's block: three splits need at least 3")
    train, tune, holdout = three_way_split(len(rest), TUNE_FRACTION, HOLDOUT_FRACTION, SPLIT_SEED)
    return block, [rest[i] for i in train], [rest[i] for i in tune], [rest[i] for i in holdout]


def correct_on(learn: TabularLearner, frame: pd.DataFrame, rows: Sequence[int]) -> list[float]:
    """1.0 for each of `rows` of `frame` whose predicted label is the true one, else 0.0."""
    part = frame.iloc[list(rows)]
    predicted = learn.predict_frame(part)["prediction"]
    return [float(hit) for hit in predicted.to_numpy() == part[TARGET].to_numpy()]


def accuracy_on(learn: TabularLearner, frame: pd.DataFrame, rows: Sequence[int]) -> float:
    """Share of `rows` of `frame` whose predicted label is the true one."""
    hits = correct_on(learn, frame, rows)
    return sum(hits) / len(hits)


def mark(value: float, chosen: bool) -> str:
    return f"{value:.4f}" + (" *" if chosen else "")


def format_grid(grid: Sequence[float]) -> str:
    return "{" + ", ".join(f"{lr:.3g}" for lr in grid) + "}"


def describe_prediction(learn: TabularLearner, row: dict[str, object]) -> str:
    label, _, probs = learn.predict(row)
    classes = learn.classes or []
    chances = ", ".join(f"{c}: {float(p):.0%}" for c, p in zip(classes, probs))
    notes = f" ({'; '.join(learn.last_notes)})" if learn.last_notes else ""
    return f"{label} ({chances}){notes}"


def describe_missing_value(data: TabularData, fill: FillMissing) -> str:
    """What a missing value of a column with holes in training becomes, read off the fitted procs."""
    if not fill.na_cols:
        return "No continuous column had holes in the training rows."
    column = fill.na_cols[0]
    shown = data.show_processed({column: math.nan})
    value = float(shown[shown.column == column].processed.iloc[0])
    flag = shown[shown.column == column + "_na"].meaning
    return (
        f"A missing {column} becomes {fill.fill[column]:g} (the training median; {value:+.3f} after "
        f"Normalize) with {column}_na = {bool(flag.iloc[0]) if len(flag) else '?'}."
    )
