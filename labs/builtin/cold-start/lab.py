"""Lab `cold-start`: a new user has no ratings; what the system asks at sign-up lets it predict for them.

The lesson: a collaborative-filtering model knows nothing about a user it never saw. Use a second,
metadata-driven model for new users and new movies, or do what Netflix does at sign-up: ask the new
user questions about what they like.

The experiment (the project's protocol): users, not ratings, are split once into known users (train),
tuning users and held-out users; the last two are new. Each new user answers `asked` sign-up questions:
their ratings of the most-rated movies they have seen. Scored on every other rating of the new users:

- sign-up ratings folded in (the claim): EmbeddingDotBias trained on the known users' ratings; each new
  user then gets a factor vector and a bias fitted to their answers with the movies' factors held fixed
  (ridge "fold-in", penalty `lambda`). The model's learning rate and L2 and the fold-in's lambda are
  picked together from a grid on the tuning users;
- the best baselines that know nothing about the new user: the same model's movie biases (no user
  vector), and each movie's mean rating, shrunk toward the global mean by a damping picked on the
  tuning users;
- shown, not judged: the answers' bias alone (a fitted user bias, no factors), the part of the gain
  that is only how generous the user is;
- with user metadata (ml-100k's u.user, or generated data): the metadata model of `engine.collab.cold_start`
  with the users' age, gender and occupation against the same model without them, both on the known
  users' ratings only, each with its learning rate picked from the same grid on the tuning users.

The verdict is the paired t-test over seeds of the folded-in model against both baselines, with Holm's
correction. The metadata comparison, where it runs, gets its own verdict (`metadata_verdict`): the same
test, a separate claim, so the question's answer never depends on whether the data has metadata.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from engine.collab import CollabData, CollabLearner, EmbeddingDotBias, IdMap, UnknownIdError, collab_data
from engine.collab.cold_start import ColdStartLearner, cold_start_data, cold_start_learner
from engine.datasets.movielens import MovieLens
from engine.tabular.model import sigmoid_range
from engine.utils import load_state_bytes, state_bytes
from labs._experiment import SPLIT_SEED, SeedResults, pick_best, three_way_split
from labs._movielens import (
    GENERATOR,
    auto_batch_size,
    dot_bias_learner,
    fit_dot_bias,
    load_movielens,
    mean_predictions,
    mse,
    parse_grid,
    subset,
)
from labs.context import LabContext
from labs.events import seed_series
from labs.verdict import outcome_for

CLAIM = (
    "On users it has never seen, a model that folds in a few ratings asked at sign-up predicts their other "
    "ratings better than the best baseline that knows nothing about them (movie biases, movie means)."
)
METADATA_CLAIM = (
    "On users it has never seen, a model given their sign-up data (age, gender, occupation) predicts their "
    "ratings better than the same model without it."
)
FOLDED, BIAS_ONLY = "sign-up ratings folded in", "sign-up ratings, bias only"
MOVIE_BIASES, MOVIE_MEANS = "movie biases", "movie means"
MEANS_OFFSET = "movie means + answers' offset"
METADATA, NO_METADATA = "metadata model", "same model, no user metadata"
KNOWN = "known users' model"  # the fit the fold-in arms and movie biases share, per seed
TUNE_USERS, HELD_USERS = 0.15, 0.25
DAMPINGS = (0.0, 1.0, 3.0, 10.0, 30.0)
LAMBDAS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
Choice = tuple[float, float]  # (learning rate, L2)


def run(ctx: LabContext) -> dict[str, object]:
    p = ctx.p
    with ctx.stage("data"):
        cap = p.max_ratings if ctx.data is not None else p.ratings
        ml, source = load_movielens(ctx.data, p.users, p.items, cap, SPLIT_SEED)
        ratings = ml.ratings.reset_index(drop=True)
        has_metadata = ml.users is not None and ml.items is not None
        ctx.report_data(len(ratings), unit="ratings", generator=GENERATOR)
        split = NewUserSplit(ratings, p.asked, SPLIT_SEED)
        ctx.text(
            f"{source}. Users split once: {split.known_users} known; {split.tune_users} new users to tune on "
            f"and {split.held_users} held-out new users. Each new user answers {p.asked} sign-up questions: "
            f"their ratings of the most-rated movies they have seen ({len(split.asked)} ratings). Every "
            f"other rating of theirs is to predict: {len(split.tune)} for tuning, {len(split.held)} for the "
            "verdict."
        )
        try:
            IdMap(ratings.user.iloc[split.known], "user").index_of(ratings.user.iloc[split.held].tolist()[0])
        except UnknownIdError as error:
            ctx.text(f"A model trained on the known users alone: {error}", kind="explanation")
        if has_metadata:
            ctx.text(
                "The users' sign-up data (age, gender, occupation) is in this data, so the metadata model "
                "runs too." + (" " + METADATA_GENERATED if ctx.data is None else ""),
                kind="explanation",
            )
        else:
            ctx.text(
                "No user metadata in this data (ML_SAMPLE has ratings only; ml-100k's u.user has it): "
                "the metadata model is skipped, the sign-up ratings decide.",
                kind="explanation",
            )
        bs = p.bs or auto_batch_size(len(split.known))
        arms_per_seed = 3 if has_metadata else 1
        ctx.expect_steps(arms_per_seed * len(ctx.seeds) * p.epochs * math.ceil(len(split.known) / bs))

    lrs, l2s = parse_grid(p.lrs, "lrs"), parse_grid(p.l2s, "l2s")
    grid: list[Choice] = [(lr, l2) for lr in lrs for l2 in l2s]
    first = ctx.seeds[0]
    asked = ratings.iloc[split.asked]
    y_range = (0.0, p.y_max)

    def known_data(evaluate: Sequence[int], seed: int) -> CollabData:
        """The known users' ratings; `evaluate` rows (new users) are the validation set."""
        frame, rows = subset(ratings, split.known, evaluate)
        return collab_data(frame, valid_idx=rows, seed=seed, bs=bs, titles=ml.titles())

    def known_model(evaluate: Sequence[int], choice: Choice, seed: int, curve: str = "") -> CollabLearner:
        """EmbeddingDotBias on the known users' ratings, validated on `evaluate`."""
        ctx.check_cancelled()
        data = known_data(evaluate, seed)
        ctx.reseed(seed)
        return fit_dot_bias(ctx, data, p.n_factors, y_range, choice, p.epochs, curve)

    def metadata_learner(evaluate: Sequence[int], lr: float, seed: int, with_users: bool) -> ColdStartLearner:
        """The untrained metadata model (or the one a fit's sent-back weights fill)."""
        frame, rows = subset(ratings, split.known, evaluate)
        data = cold_start_data(
            MovieLens(frame, ml.items, ml.users, ml.genres),
            seed=seed,
            bs=bs,
            valid_idx=rows,
            user_numeric=("age",) if with_users else (),
            user_categorical=("gender", "occupation") if with_users else (),
        )
        ctx.reseed(seed)
        with warnings.catch_warnings():  # no user columns: a Linear with no inputs, only its bias
            warnings.filterwarnings("ignore", "Initializing zero-element tensors")
            return cold_start_learner(data, n_factors=10, lr=lr, device=ctx.device, path=ctx.work_dir)

    def metadata_model(
        evaluate: Sequence[int], lr: float, seed: int, with_users: bool, curve: str = ""
    ) -> ColdStartLearner:
        ctx.check_cancelled()
        learn = metadata_learner(evaluate, lr, seed, with_users)
        if curve:
            ctx.curve(curve)
            ctx.watch(learn)
        learn.fit_one_cycle(p.epochs, lr)
        return learn

    with ctx.stage("tune"):
        tune_rows = ratings.iloc[split.tune]
        training = ratings.iloc[
            [*split.known, *split.asked]
        ]  # the rows the means may use: no new answers hidden
        damping, damping_scores = pick_best(
            DAMPINGS,
            lambda d: mse(mean_predictions(training, tune_rows, users=False, damping=d), tune_rows.rating),
        )

        def tuning_fit(choice: Choice) -> list[tuple[float, float]]:
            """Per lambda: the tuning MSE of the fold-in, and of the bias-only fold-in."""
            model = known_model(split.tune, choice, first)
            return [
                (
                    FoldIn(model, asked, lam).mse(tune_rows),
                    FoldIn(model, asked, lam, factors=False).mse(tune_rows),
                )
                for lam in LAMBDAS
            ]

        fold_scores: dict[tuple[float, float, float], float] = {}
        bias_scores: dict[tuple[float, float, float], float] = {}
        for choice, per_lambda in zip(grid, ctx.run_all(tuning_fit, grid)):
            for lam, (fold_mse, bias_mse) in zip(LAMBDAS, per_lambda):
                fold_scores[(*choice, lam)], bias_scores[(*choice, lam)] = fold_mse, bias_mse
        lr, l2, lam = pick_best(list(fold_scores), fold_scores.__getitem__)[0]
        chosen: Choice = (lr, l2)
        bias_lam = pick_best(list(LAMBDAS), lambda value: bias_scores[(lr, l2, value)])[0]
        ctx.table(
            f"tuning MSE on the tuning users' {len(split.tune)} other ratings (seed {first}, {p.epochs} "
            "epochs): the model's lr and L2, and the fold-in's lambda, picked together",
            ["lr", "L2", *(f"lambda {value:g}" for value in LAMBDAS)],
            [
                [
                    f"{a:g}",
                    f"{b:g}",
                    *(mark(fold_scores[(a, b, c)], (a, b, c) == (lr, l2, lam)) for c in LAMBDAS),
                ]
                for a, b in grid
            ],
        )
        ctx.table(
            "baselines' settings, picked on the same ratings",
            ["arm", "grid", "picked", "tuning MSE"],
            [
                [
                    MOVIE_MEANS,
                    "damping " + ", ".join(f"{d:g}" for d in DAMPINGS),
                    f"{damping:g}",
                    f"{damping_scores[damping]:.4f}",
                ],
                [MOVIE_BIASES, "the model's lr and L2 (as above)", f"{lr:g}, {l2:g}", "-"],
                [
                    BIAS_ONLY,
                    "lambda " + ", ".join(f"{v:g}" for v in LAMBDAS),
                    f"{bias_lam:g}",
                    f"{bias_scores[(lr, l2, bias_lam)]:.4f}",
                ],
            ],
        )
        meta_lr: dict[str, float] = {}
        meta_scores: dict[str, dict[float, float]] = {}
        if has_metadata:

            def metadata_tuning_fit(job: tuple[bool, float]) -> float:
                with_users, lr = job
                return learner_mse(metadata_model(split.tune, lr, first, with_users))

            meta_jobs = [(with_users, lr) for with_users in (True, False) for lr in lrs]
            meta_tuning = dict(zip(meta_jobs, ctx.run_all(metadata_tuning_fit, meta_jobs)))
            for arm, with_users in ((METADATA, True), (NO_METADATA, False)):
                mse_at = {lr: meta_tuning[with_users, lr] for lr in lrs}
                meta_lr[arm], meta_scores[arm] = pick_best(lrs, mse_at.__getitem__)
            ctx.table(
                "metadata models: learning rate picked on the same ratings (L2 0.05, 10 factors)",
                ["lr", METADATA, NO_METADATA],
                [
                    [
                        f"{value:g}",
                        *(mark(meta_scores[a][value], meta_lr[a] == value) for a in (METADATA, NO_METADATA)),
                    ]
                    for value in lrs
                ],
            )
        ctx.text(
            "Every arm picked its settings on the tuning users from its grid, with the same epochs; * marks "
            "the pick, which every seed reuses. The held-out users are judged only below.",
            kind="explanation",
        )

    with ctx.stage("seeds"):
        held = ratings.iloc[split.held]
        means = mse(mean_predictions(training, held, users=False, damping=damping), held.rating)
        means_offset = mse(mean_predictions(training, held, users=True, damping=damping), held.rating)
        results = SeedResults("held-out MSE", higher_is_better=False)
        last_seed = ctx.seeds[-1]
        arms = [KNOWN] + ([METADATA, NO_METADATA] if has_metadata else [])

        def seed_fit(job: tuple[int, str]) -> tuple[list[float], bytes | None]:
            """An arm's held-out MSEs on a seed (the known users' model: folded in, movie biases, bias
            only), and the weights of the last seed's models, which answer predictions."""
            seed, arm = job
            kept = seed == last_seed
            if arm == KNOWN:
                model = known_model(split.held, chosen, seed, curve=seed_series(KNOWN, seed))
                scores = [
                    FoldIn(model, asked, lam).mse(held),
                    FoldIn(model, asked, math.inf).mse(held),
                    FoldIn(model, asked, bias_lam, factors=False).mse(held),
                ]
                return scores, state_bytes(model.model) if kept else None
            with_users = arm == METADATA
            learn = metadata_model(split.held, meta_lr[arm], seed, with_users, curve=seed_series(arm, seed))
            return [learner_mse(learn)], state_bytes(learn.model) if kept and with_users else None

        jobs = [(seed, arm) for seed in ctx.seeds for arm in arms]
        outcomes = dict(zip(jobs, ctx.run_all(seed_fit, jobs)))
        for seed in ctx.seeds:
            folded_mse, biases_mse, bias_only_mse = outcomes[seed, KNOWN][0]
            results.add(FOLDED, folded_mse)
            results.add(MOVIE_BIASES, biases_mse)
            results.add(MOVIE_MEANS, means)
            results.add(BIAS_ONLY, bias_only_mse)
            results.add(MEANS_OFFSET, means_offset)
            for arm in arms[1:]:
                results.add(arm, outcomes[seed, arm][0][0])
        known_weights = outcomes[last_seed, KNOWN][1]
        assert known_weights is not None
        last_model = dot_bias_learner(ctx, known_data(split.held, last_seed), p.n_factors, y_range, chosen)
        load_state_bytes(last_model.model, known_weights)
        folded = FoldIn(last_model, asked, lam)
        cold: ColdStartLearner | None = None
        if has_metadata:
            cold_weights = outcomes[last_seed, METADATA][1]
            assert cold_weights is not None
            cold = metadata_learner(split.held, meta_lr[METADATA], last_seed, True)
            load_state_bytes(cold.model, cold_weights)
        columns, rows = results.table(ctx.seeds)
        ctx.table(f"MSE on the held-out new users' {len(split.held)} other ratings", columns, rows)
        comparisons = {
            f"{FOLDED} vs {MOVIE_BIASES}": results.differences(FOLDED, MOVIE_BIASES),
            f"{FOLDED} vs {MOVIE_MEANS}": results.differences(FOLDED, MOVIE_MEANS),
        }
        verdict = ctx.judge(CLAIM, comparisons, metric="held-out MSE")
        metadata_verdict = (
            ctx.judge(METADATA_CLAIM, results.differences(METADATA, NO_METADATA), metric="held-out MSE")
            if has_metadata
            else None
        )
        if metadata_verdict is not None:
            ctx.text(
                f"{METADATA} against the {NO_METADATA}: {metadata_verdict.word} (effect "
                f"{metadata_verdict.effect:+.4f} MSE, threshold {metadata_verdict.threshold:.4f}, "
                f"{metadata_verdict.seeds} seeds)"
                + (" - by construction on generated data" if ctx.data is None else ""),
                kind="explanation",
            )
        ctx.text(
            f"'{MOVIE_BIASES}': the known users' model for their average user (no answers needed). Shown, "
            f"not judged: '{BIAS_ONLY}' fits only a bias to each new user's {p.asked} answers, and "
            f"'{MEANS_OFFSET}' adds the user's mean offset in their answers to the movie means (same "
            "damping): the part of any gain that is how generous the user is; the rest is taste, which "
            "the factors carry.",
            kind="explanation",
        )

    with ctx.stage("predict"):
        fold = folded
        new_user = held.user.tolist()[0]
        ctx.text(
            fold.recommend(new_user, p.top_k, ml.titles()),
            title=f"top {p.top_k} for new user {new_user}, from their {p.asked} sign-up ratings",
            kind="prediction",
        )
        if cold is not None:
            cold_ = cold
            item = held.item.tolist()[0]
            ctx.set_predictor(lambda text: sign_up_prediction(cold_, text, item))
        else:
            ctx.set_predictor(lambda text: fold.answer(text))

    yes, no = ctx.info.choices
    return {
        "held_out_mse": {arm: round(results.mean(arm), 4) for arm in results.by_arm},
        "tuning": {
            FOLDED: {
                "grid": [list(c) for c in grid],
                "lambdas": list(LAMBDAS),
                "epochs": p.epochs,
                "chosen": [lr, l2, lam],
            },
            MOVIE_MEANS: {"grid": list(DAMPINGS), "chosen": damping},
            BIAS_ONLY: {"grid": list(LAMBDAS), "chosen": bias_lam},
            **{arm: {"grid": list(lrs), "epochs": p.epochs, "chosen": meta_lr[arm]} for arm in meta_lr},
        },
        "asked": p.asked,
        "metadata": has_metadata,
        "verdict": verdict.to_dict(),
        "metadata_verdict": None if metadata_verdict is None else metadata_verdict.to_dict(),
        "outcome": outcome_for(verdict, yes, no),
    }


@dataclass
class FoldIn:
    """New users' factors and biases fitted to their sign-up answers, the movies' factors held fixed:
    per user, minimise sum over answers (prediction - rating)^2 + lambda |theta - mean|^2, where theta is
    the user's factors and bias and mean is the known users' average. lambda = inf leaves every new user
    at that average: the model's movie biases for an average user, which needs no answers. With
    `factors=False` only the bias moves (the factors stay the average's)."""

    learn: CollabLearner
    answers: pd.DataFrame  # user, item, rating of every new user's sign-up answers
    lam: float
    factors: bool = True

    def __post_init__(self) -> None:
        model = self.learn.model
        assert isinstance(model, EmbeddingDotBias)
        self.model = model
        self.user_index = {user: k for k, user in enumerate(sorted(self.answers.user.unique().tolist()))}
        n = len(self.user_index)
        with torch.no_grad():  # row 0 is #na#: the known users are rows 1..
            self.mean_vector = model.u_weight.weight.detach().cpu()[1:].mean(0)
            self.mean_bias = model.u_bias.weight.detach().cpu()[1:, 0].mean()
        self.vector_shift = torch.zeros(n, self.mean_vector.shape[0] if self.factors else 0)
        self.bias_shift = torch.zeros(n)
        if math.isfinite(self.lam):
            self._fit()

    @property
    def vectors(self) -> torch.Tensor:
        shift = (
            self.vector_shift if self.factors else torch.zeros(len(self.bias_shift), len(self.mean_vector))
        )
        return self.mean_vector + shift

    def _items(self, items: pd.Series) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.from_numpy(self.learn.data.items.encode(items.tolist()))
        with torch.no_grad():
            factors = self.model.i_weight.weight.detach().cpu()[index]
            return factors, self.model.i_bias.weight.detach().cpu()[index, 0]

    def _predict(self, users: torch.Tensor, factors: torch.Tensor, item_bias: torch.Tensor) -> torch.Tensor:
        out = (self.vectors[users] * factors).sum(1) + self.mean_bias + self.bias_shift[users] + item_bias
        y_range = self.model.y_range
        return out if y_range is None else sigmoid_range(out, *y_range)

    def _fit(self) -> None:
        users = torch.tensor([self.user_index[u] for u in self.answers.user.tolist()])
        factors, item_bias = self._items(self.answers.item)
        targets = torch.tensor(self.answers.rating.to_numpy(dtype=np.float32))
        shifts = [self.vector_shift.requires_grad_(True), self.bias_shift.requires_grad_(True)]
        optimizer = torch.optim.LBFGS(shifts, lr=1.0, max_iter=100, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            error = (self._predict(users, factors, item_bias) - targets).pow(2).sum()
            loss = error + self.lam * sum(shift.pow(2).sum() for shift in shifts)
            loss.backward()
            return loss

        optimizer.step(closure)
        self.vector_shift, self.bias_shift = (shift.detach() for shift in shifts)

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        users = torch.tensor([self.user_index.get(u, -1) for u in rows.user.tolist()])
        if bool((users < 0).any()):
            raise ValueError("fold-in predicts only for the new users who answered")
        factors, item_bias = self._items(rows.item)
        with torch.no_grad():
            return self._predict(users, factors, item_bias).numpy()

    def mse(self, rows: pd.DataFrame) -> float:
        return mse(self.predict(rows), rows.rating.to_numpy(dtype=float))

    def recommend(self, user: object, k: int, titles: dict[int, str]) -> str:
        rated = set(self.answers.item[self.answers.user == user].tolist())
        items = [item for item in self.learn.data.items.classes[1:] if item not in rated]
        scores = self.predict(pd.DataFrame({"user": [user] * len(items), "item": items}))
        top = np.argsort(-scores)[:k]
        return "\n".join(f"{scores[i]:.2f}  {titles.get(items[i], items[i])}" for i in top)

    def answer(self, text: str) -> str:
        """`USER MOVIE`: a new user's predicted rating."""
        parts = text.split()
        if len(parts) != 2 or not all(part.isdigit() for part in parts):
            raise ValueError(f"type a new user's id and a movie id, e.g. {next(iter(self.user_index))} 50")
        user, item = int(parts[0]), int(parts[1])
        value = float(self.predict(pd.DataFrame({"user": [user], "item": [item]}))[0])
        return f"new user {user} would give movie {item} about {value:.2f} stars"


METADATA_GENERATED = (
    "On generated data the metadata's share is the generator's choice: each user's bias and taste were "
    "made about half from age, gender and occupation, so the metadata comparison is decided by "
    "construction there; only ml-100k's real sign-up data can decide it."
)


class NewUserSplit:
    """Row positions: the known users' ratings, the new users' sign-up answers, and the new users' other
    ratings (tuning users', held-out users')."""

    def __init__(self, ratings: pd.DataFrame, asked: int, seed: int) -> None:
        users = np.sort(ratings.user.unique())
        known_i, tune_i, held_i = three_way_split(len(users), TUNE_USERS, HELD_USERS, split_seed=seed)
        known_users, tune_users, held_users = (set(users[i].tolist()) for i in (known_i, tune_i, held_i))
        self.known_users, self.tune_users, self.held_users = (
            len(known_users),
            len(tune_users),
            len(held_users),
        )
        user = ratings.user.to_numpy()
        self.known = np.flatnonzero(np.isin(user, list(known_users))).tolist()
        popularity = ratings.iloc[self.known].item.value_counts()
        rank = ratings.item.map(popularity).fillna(0).to_numpy()
        new = ratings.assign(rank=-rank, row=np.arange(len(ratings)))[~np.isin(user, list(known_users))]
        ordered = new.sort_values(["user", "rank", "item"])
        first = ordered.groupby("user").cumcount() < asked
        self.asked = sorted(ordered.row[first].tolist())
        rest = ordered[~first]
        self.tune = sorted(rest.row[rest.user.isin(tune_users)].tolist())
        self.held = sorted(rest.row[rest.user.isin(held_users)].tolist())


def learner_mse(learn: CollabLearner | ColdStartLearner) -> float:
    preds, targets = learn.get_preds()
    return mse(preds.numpy(), targets.numpy())


def mark(value: float, picked: bool) -> str:
    text = f"{value:.4f}" if np.isfinite(value) else str(value)
    return f"{text} *" if picked else text


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
