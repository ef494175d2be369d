"""Lab `cold-start`: new users have no ratings; a metadata model answers for them.

The lesson: a collaborative-filtering model knows nothing about a user it never saw. Use a second,
metadata-driven model for new users and new movies, or ask new users questions at sign-up (Netflix's
questionnaire) to get that metadata.
"""

from __future__ import annotations

from engine.collab import UnknownIdError, collab_data, collab_learner
from engine.collab.cold_start import ColdStartLearner, ColdStartPredictor, cold_start_data, cold_start_learner
from labs._movielens import load_movielens
from labs.context import LabContext
from labs.errors import LabError
from labs.verdict import judge, outcome_for, paired_noise

CLAIM = "On users it has never seen, a model driven by their metadata predicts ratings better than the global mean."


def run(ctx: LabContext) -> dict[str, object]:
    p = ctx.p
    with ctx.stage("data"):
        ml, source = load_movielens(ctx.data, p.users, p.items, p.ratings, ctx.seed)
        if ml.users is None:
            raise LabError("the cold-start lab needs the users' sign-up data (u.user in MovieLens 100k)")
        users = ml.users
        data = cold_start_data(ml, new_user_pct=p.new_users, seed=ctx.seed, bs=p.bs)
        new_users = ml.ratings["user"].iloc[data.valid_idx].unique()
        ctx.text(
            f"{source}. {len(new_users)} users are held out with all their ratings: to every model they are "
            f"new users, known only by their sign-up data (age, gender, occupation).",
        )
        ctx.table(
            "some new users",
            ["user", "age", "gender", "occupation"],
            users[users.user.isin(new_users[:5])][["user", "age", "gender", "occupation"]].itertuples(
                index=False
            ),
        )

    with ctx.stage("collab model"):
        ctx.reseed()
        ctx.curve("collab")
        known = collab_data(
            ml.ratings.iloc[data.train_idx], valid_pct=0.1, seed=ctx.seed, bs=p.bs, titles=ml.titles()
        )
        collab = ctx.watch(
            collab_learner(
                known,
                n_factors=40,
                y_range=(0, 5.5),
                wd=0.0,
                emb_l2=0.05,
                lr=2e-2,
                device=ctx.device,
                path=ctx.work_dir,
            )
        )
        collab.fit_one_cycle(p.epochs, 2e-2)
        first_item = ml.ratings["item"].iloc[data.valid_idx[0]]
        try:
            collab.predict(new_users[0], first_item)
            unknown = "the collab model answered (unexpected)"
        except UnknownIdError as error:
            unknown = str(error)
        ctx.text(
            f"collab.predict(new user {new_users[0]}, movie {first_item}) → {unknown}", kind="explanation"
        )

    with ctx.stage("metadata model"):
        ctx.reseed()
        ctx.curve("metadata")
        cold = ctx.watch(
            cold_start_learner(data, n_factors=10, lr=p.lr, device=ctx.device, path=ctx.work_dir)
        )
        cold.fit_one_cycle(p.epochs, p.lr)
        ctx.text(
            "Each user's factors = a linear map of their metadata + an id embedding when the id is known; "
            "ids are hidden at random in training, so the metadata part learns to answer alone.",
            kind="explanation",
        )

    with ctx.stage("new users"):
        metadata_mse = float(cold.validate()["valid_loss"])
        mean_mse = data.global_mean_mse()
        preds, targets = cold.get_preds()
        metadata_errors = ((preds.reshape(-1) - targets.reshape(-1)) ** 2).tolist()
        mean_errors = ((targets.reshape(-1) - data.train_mean()) ** 2).tolist()
        verdict = judge(CLAIM, mean_mse - metadata_mse, paired_noise(mean_errors, metadata_errors))
        ctx.table(
            "MSE on the ratings of the new users",
            ["prediction", "MSE"],
            [["the global mean rating", f"{mean_mse:.4f}"], ["the metadata model", f"{metadata_mse:.4f}"]],
        )
        predictor = ColdStartPredictor(collab, cold)
        known_user = ml.ratings["user"].iloc[data.train_idx[0]]
        rows = []
        for user in (known_user, new_users[0]):
            rating = predictor.predict(user, first_item)
            rows.append([user, first_item, f"{rating.value:.2f}", rating.source])
        ctx.table(
            "one predictor: collab for known ids, metadata for new ones",
            ["user", "movie", "rating", "from"],
            rows,
        )
        ctx.set_predictor(lambda text: sign_up_prediction(cold, text, first_item))

    yes, no = ctx.info.choices
    return {
        "global_mean_mse": round(mean_mse, 4),
        "metadata_mse": round(metadata_mse, 4),
        "verdict": verdict.to_dict(),
        "outcome": outcome_for(verdict, yes, no),
    }


def sign_up_prediction(cold: ColdStartLearner, text: str, item: object) -> str:
    """`AGE GENDER OCCUPATION [MOVIE]`: what a brand-new user would give the movie."""
    parts = text.split()
    if len(parts) not in (3, 4) or not parts[0].isdigit():
        raise ValueError("type: age gender occupation [movie id], e.g. 25 F student 50")
    if len(parts) == 4:
        item = int(parts[3]) if parts[3].isdigit() else parts[3]
    meta = {"age": int(parts[0]), "gender": parts[1].upper(), "occupation": parts[2].lower()}
    rating = cold.predict("a new user", item, user_meta=meta)
    return f"a new {meta['age']}-year-old {meta['occupation']} ({meta['gender']}) would give movie {item} {rating:.2f} stars"
