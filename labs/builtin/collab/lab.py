"""Lab `collab`: collaborative filtering fills the sparse users x movies matrix better than biases alone.

The lesson's notebook:

    data = CollabDataBunch.from_df(ratings, seed=42)
    learn = collab_learner(data, n_factors=40, y_range=(0, 5.5), wd=1e-1)
    learn.fit_one_cycle(5, 5e-3)
    movie_bias = learn.bias(top_movies, is_item=True)

The experiment (the project's protocol): one split of the ratings into train / tuning / held-out. Arms:
EmbeddingDotBias with `n_factors` factors (the claim), the same model with no factors (biases only), and
plain user + movie means. Both trained arms pick their learning rate and L2 from the same grid on the
tuning split (on the first seed), train the same epochs, and are scored on the held-out ratings on every
seed; the verdict is the paired t-test over seeds against each rival (Holm).
"""

from __future__ import annotations

import math

import numpy as np

from engine.collab import CollabData, CollabLearner, collab_data
from engine.utils import load_state_bytes, state_bytes
from labs._experiment import SPLIT_SEED, SeedResults, pick_best, three_way_split
from labs._movielens import (
    GENERATOR,
    auto_batch_size,
    density,
    dot_bias_learner,
    fit_dot_bias,
    load_movielens,
    matrix_corner,
    mean_predictions,
    mse,
    parse_grid,
    restart_order,
    subset,
)
from labs.context import LabContext
from labs.events import seed_series
from labs.verdict import outcome_for

CLAIM = (
    "The dot product of learned user and movie factors (plus their biases) predicts held-out ratings "
    "better (lower MSE) than the best model of user and movie biases alone."
)
FACTORS, BIASES, MEANS = "factors + biases", "biases only", "user + movie means"
TUNE_FRACTION, HOLDOUT_FRACTION = 0.1, 0.2
Choice = tuple[float, float]  # (learning rate, L2)


def run(ctx: LabContext) -> dict[str, object]:
    p = ctx.p
    with ctx.stage("data"):
        cap = p.max_ratings if ctx.data is not None else p.ratings
        ml, source = load_movielens(ctx.data, p.users, p.items, cap, SPLIT_SEED)
        ratings = ml.ratings.reset_index(drop=True)
        ctx.report_data(len(ratings), unit="ratings", generator=GENERATOR)
        train, tune, held = three_way_split(
            len(ratings), TUNE_FRACTION, HOLDOUT_FRACTION, split_seed=SPLIT_SEED
        )
        bs = p.bs or auto_batch_size(len(train))
        low, high = float(ratings["rating"].min()), float(ratings["rating"].max())
        ctx.text(
            f"{source}: {ratings.user.nunique()} users x {ratings.item.nunique()} movies, "
            f"{density(ratings):.0%} of the cells rated. Split once: {len(train)} ratings train, "
            f"{len(tune)} tune (each arm picks its settings there), {len(held)} held out (only the "
            f"verdict sees them). Ratings from {low:g} to {high:g}."
        )
        if ctx.data is None:
            ctx.text(
                "Generated data was given user tastes and movie traits whose dot product moves the ratings "
                "(see the data line): factors have something to find by construction, so these ratings "
                "check the code, not the claim.",
                kind="explanation",
            )
        columns, rows, empty = matrix_corner(ml)
        cells = (len(columns) - 1) * len(rows)
        ctx.table(
            f"users (most to least active) x movies (most to least rated): {empty} of {cells} cells are "
            "not rated (·); the model predicts every cell",
            columns,
            rows,
        )
        steps_per_epoch = math.ceil(len(train) / bs)
        ctx.expect_steps(2 * len(ctx.seeds) * p.epochs * steps_per_epoch)

    lrs, l2s = parse_grid(p.lrs, "lrs"), parse_grid(p.l2s, "l2s")
    grid: list[Choice] = [(lr, l2) for lr in lrs for l2 in l2s]
    arms = {FACTORS: p.n_factors, BIASES: 0}
    y_range = (0.0, p.y_max)

    def fit(data: CollabData, n_factors: int, choice: Choice, seed: int, curve: str = "") -> CollabLearner:
        ctx.reseed(seed)
        restart_order(data.dls.train, seed)
        return fit_dot_bias(ctx, data, n_factors, y_range, choice, p.epochs, curve)

    with ctx.stage("tune"):
        first = ctx.seeds[0]
        frame, tune_rows = subset(ratings, train, tune)
        tune_data = collab_data(frame, valid_idx=tune_rows, seed=first, bs=bs)

        def tuning_fit(job: tuple[str, Choice]) -> float:
            arm, choice = job
            return held_out_mse(fit(tune_data, arms[arm], choice, first))

        choices = [(arm, choice) for arm in arms for choice in grid]
        tuning = dict(zip(choices, ctx.run_all(tuning_fit, choices)))
        chosen: dict[str, Choice] = {}
        scores: dict[str, dict[Choice, float]] = {}
        for arm in arms:
            mse_at = {choice: tuning[arm, choice] for choice in grid}
            chosen[arm], scores[arm] = pick_best(grid, mse_at.__getitem__)
        means_tune = mse(mean_predictions(ratings.iloc[train], ratings.iloc[tune]), ratings.rating.iloc[tune])
        ctx.table(
            f"tuning MSE on the {len(tune)} tuning ratings (seed {first}, {p.epochs} epochs each; "
            f"user + movie means: {means_tune:.4f})",
            ["lr", "L2", *(f"{arm} MSE" for arm in arms)],
            [
                [
                    f"{lr:g}",
                    f"{l2:g}",
                    *(mark(scores[arm][(lr, l2)], chosen[arm] == (lr, l2)) for arm in arms),
                ]
                for lr, l2 in grid
            ],
        )
        ctx.text(
            "Both trained arms searched the same grid of learning rates and L2 penalties (the penalty on the "
            "factor and bias rows each batch uses) with the same epochs; * marks each arm's pick, which "
            "every seed then reuses.",
            kind="explanation",
        )

    with ctx.stage("seeds"):
        frame, held_rows = subset(ratings, train, held)
        targets = ratings.rating.iloc[held]
        means_held = mse(mean_predictions(ratings.iloc[train], ratings.iloc[held]), targets)
        results = SeedResults("held-out MSE", higher_is_better=False)
        last_seed = ctx.seeds[-1]

        def seed_data(seed: int) -> CollabData:
            return collab_data(frame, valid_idx=held_rows, seed=seed, bs=bs, titles=ml.titles())

        def seed_fit(job: tuple[int, str]) -> tuple[float, bytes | None]:
            seed, arm = job
            learn = fit(seed_data(seed), arms[arm], chosen[arm], seed, curve=seed_series(arm, seed))
            kept = seed == last_seed and arm == FACTORS  # the model the predictions come from
            return held_out_mse(learn), state_bytes(learn.model) if kept else None

        jobs = [(seed, arm) for seed in ctx.seeds for arm in arms]
        outcomes = dict(zip(jobs, ctx.run_all(seed_fit, jobs)))
        for seed in ctx.seeds:
            for arm in arms:
                results.add(arm, outcomes[seed, arm][0])
            results.add(MEANS, means_held)
        weights = outcomes[last_seed, FACTORS][1]
        assert weights is not None
        model = dot_bias_learner(ctx, seed_data(last_seed), arms[FACTORS], y_range, chosen[FACTORS])
        load_state_bytes(model.model, weights)
        columns, rows = results.table(ctx.seeds)
        ctx.table(f"held-out MSE on {len(held)} ratings no choice saw", columns, rows)
        verdict = ctx.judge(CLAIM, results.rivals(FACTORS), metric="held-out MSE")
        ctx.text(
            f"prediction = sigmoid(user factors · movie factors + user bias + movie bias), scaled into "
            f"y_range {y_range} (a sigmoid never reaches its ends, so the range is a little wider than the "
            f"ratings'); {p.n_factors} factors, or none for the biases-only arm.",
            kind="explanation",
        )

    with ctx.stage("interpret"):
        top = min(1000, model.data.n_items - 1)
        best, worst = model.item_bias(n=5, top=top)
        for title, table in (
            ("most liked movies (highest bias)", best),
            ("least liked movies (lowest bias)", worst),
        ):
            ctx.table(
                title,
                ["title", "bias", "mean rating", "ratings"],
                [[r.title, f"{r.bias:.2f}", f"{r.mean_rating:.2f}", r.n_ratings] for r in table.itertuples()],
            )
        ctx.text(
            "A movie's bias is how much it is liked whoever watches it, after the factors account for taste: "
            "it can disagree with the raw mean rating.",
            kind="explanation",
        )

    with ctx.stage("recommend"):
        user = p.user if p.user in model.data.users else model.data.users.decode([1])[0]
        ctx.text(
            recommendations(model, user, p.top_k), title=f"top {p.top_k} for user {user}", kind="prediction"
        )
        ctx.set_predictor(lambda text: answer(model, text, p.top_k))

    factors_choice, biases_choice = ctx.info.choices
    return {
        "held_out_mse": {arm: round(results.mean(arm), 4) for arm in results.by_arm},
        "tuning": {
            arm: {
                "grid": [list(choice) for choice in grid],
                "epochs": p.epochs,
                "batch_size": bs,
                "chosen": list(chosen[arm]),
                "scores": [round(scores[arm][choice], 6) for choice in grid],
            }
            for arm in arms
        },
        "best_movie": str(best.title.iloc[0]),
        "verdict": verdict.to_dict(),
        "outcome": outcome_for(verdict, factors_choice, biases_choice),
    }


def held_out_mse(learn: CollabLearner) -> float:
    """MSE over the learner's validation rows (the tuning or the held-out ratings)."""
    preds, targets = learn.get_preds()
    return mse(preds.numpy(), targets.numpy())


def mark(value: float, picked: bool) -> str:
    text = f"{value:.4f}" if np.isfinite(value) else str(value)
    return f"{text} *" if picked else text


def recommendations(learn: CollabLearner, user: object, k: int) -> str:
    recs = learn.recommend(user, k=k)
    return "\n".join(f"{row.predicted:.2f}  {row.title}" for row in recs.itertuples())


def answer(learn: CollabLearner, text: str, k: int) -> str:
    """`USER` gives recommendations, `USER ITEM` a predicted rating."""
    parts = text.split()
    ids = [int(part) if part.isdigit() else part for part in parts]
    if len(ids) == 1:
        return recommendations(learn, ids[0], k).replace("\n", " | ")
    if len(ids) == 2:
        return f"user {ids[0]} would give movie {ids[1]} about {learn.predict(ids[0], ids[1]):.2f} stars"
    raise ValueError("type a user id (recommendations) or a user id and a movie id (a rating)")
