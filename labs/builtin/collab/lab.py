"""Lab `collab`: EmbeddingDotBias with y_range, item biases, and recommendations.

The lesson's notebook:

    data = CollabDataBunch.from_df(ratings, seed=42)
    learn = collab_learner(data, n_factors=40, y_range=(0, 5.5), wd=1e-1)
    learn.fit_one_cycle(5, 5e-3)
    movie_bias = learn.bias(top_movies, is_item=True)
"""

from __future__ import annotations

import torch

from engine.collab import CollabLearner, collab_data, collab_learner
from labs._evidence import squared_errors
from labs._movielens import load_movielens, matrix_corner
from labs.context import LabContext
from labs.verdict import judge, outcome_for, paired_noise

CLAIM = (
    "A y_range a little wider than the ratings, like (0, 5.5), gives a lower validation error than the "
    "ratings' exact range, because a sigmoid never reaches its ends."
)


def run(ctx: LabContext) -> dict[str, object]:
    p = ctx.p
    with ctx.stage("data"):
        ml, source = load_movielens(ctx.data, p.users, p.items, p.ratings, ctx.seed)
        data = collab_data(ml.ratings, valid_pct=0.1, seed=ctx.seed, bs=p.bs, titles=ml.titles())
        low, high = data.rating_range()
        ctx.text(f"{source}; a random 10% of ratings held out for validation.")
        columns, rows = matrix_corner(ml)
        ctx.table(
            "a corner of the users x movies matrix (· = not rated): the model fills in the dots",
            columns,
            rows,
        )
        ctx.expect_steps(2 * p.epochs * len(data.dls.train))

    def fit(y_range: tuple[float, float]) -> CollabLearner:
        ctx.reseed()
        ctx.curve(f"y_range ({y_range[0]:g}, {y_range[1]:g})")
        learn = ctx.watch(
            collab_learner(
                data,
                n_factors=p.n_factors,
                y_range=y_range,
                wd=p.wd,
                emb_l2=p.emb_l2,
                lr=p.lr,
                device=ctx.device,
                path=ctx.work_dir,
            )
        )
        learn.fit_one_cycle(p.epochs, p.lr)
        return learn

    with ctx.stage("train"):
        wide_range = (0.0, p.y_max)
        learn = fit(wide_range)
        ctx.text(
            f"prediction = sigmoid(user · movie + user bias + movie bias) scaled into {wide_range}; "
            f"{p.n_factors} factors per user and movie.",
            kind="explanation",
        )

    with ctx.stage("exact y_range"):
        exact = fit((low, high))
        rows = [
            [f"({r[0]:g}, {r[1]:g})", *top_rating_view(model, high)]
            for r, model in ((wide_range, learn), ((low, high), exact))
        ]
        ctx.table(
            f"a sigmoid never reaches its ends: with ({low:g}, {high:g}) a {high:g}-star rating is out of reach",
            ["y_range", "valid MSE", f"mean prediction on {high:g}-star ratings"],
            rows,
        )
        wide_mse, exact_mse = float(rows[0][1]), float(rows[1][1])
        verdict = judge(
            CLAIM, exact_mse - wide_mse, paired_noise(squared_errors(exact), squared_errors(learn))
        )

    with ctx.stage("interpret"):
        top = min(1000, data.n_items - 1)
        best, worst = learn.item_bias(n=5, top=top)
        for title, frame in (
            ("most liked movies (highest bias)", best),
            ("least liked movies (lowest bias)", worst),
        ):
            ctx.table(
                title,
                ["title", "bias", "mean rating", "ratings"],
                [[r.title, f"{r.bias:.2f}", f"{r.mean_rating:.2f}", r.n_ratings] for r in frame.itertuples()],
            )
        ctx.text(
            "A movie's bias is how much it is liked whoever watches it, after the factors account for taste: "
            "it can disagree with the raw mean rating.",
            kind="explanation",
        )

    with ctx.stage("recommend"):
        user = p.user if p.user in data.users else data.users.decode([1])[0]
        ctx.text(
            recommendations(learn, user, p.top_k), title=f"top {p.top_k} for user {user}", kind="prediction"
        )
        ctx.set_predictor(lambda text: answer(learn, text, p.top_k))

    exact_choice, wider_choice = ctx.info.choices
    return {
        "valid_mse": round(wide_mse, 4),
        "exact_range_valid_mse": round(exact_mse, 4),
        "best_movie": str(best.title.iloc[0]),
        "verdict": verdict.to_dict(),
        "outcome": outcome_for(verdict, wider_choice, exact_choice),
    }


def top_rating_view(learn: CollabLearner, high: float) -> list[str]:
    preds, targets = learn.get_preds()
    preds, targets = preds.reshape(-1), targets.reshape(-1)
    mse = float(torch.mean((preds - targets) ** 2))
    top = targets == high
    mean_top = float(preds[top].mean()) if bool(top.any()) else float("nan")
    return [f"{mse:.4f}", f"{mean_top:.2f}"]


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
