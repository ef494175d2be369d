"""Collab data, models, learner (predict, recommend, interpretation) and MovieLens readers/generator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from engine.collab import (
    EmbeddingDotBias,
    EmbeddingL2,
    EmbeddingNN,
    IdMap,
    UnknownIdError,
    collab_data,
    collab_learner,
    fast_recipe,
)
from engine.datasets.movielens import make_movielens, read_ml100k, read_movielens, read_ratings_csv
from engine.utils import set_seed

NOISE = 0.3


def low_rank_ratings(n_users: int = 80, n_items: int = 60, rank: int = 3, seed: int = 0) -> pd.DataFrame:
    """70% of a rank-3 matrix plus Gaussian noise (std NOISE), with string user ids."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(0, 1, (n_users, rank)) @ rng.normal(0, 1, (rank, n_items)) / np.sqrt(rank) + 3.0
    users, items = np.nonzero(rng.random((n_users, n_items)) < 0.7)
    ratings = truth[users, items] + rng.normal(0, NOISE, len(users))
    return pd.DataFrame({"user": [f"u{u}" for u in users], "item": items + 100, "rating": ratings})


@pytest.fixture(scope="module")
def low_rank_learner():
    set_seed(0)
    torch.set_num_threads(1)
    data = collab_data(
        low_rank_ratings(), valid_pct=0.1, seed=42, bs=128, titles={i: f"Film {i}" for i in range(100, 160)}
    )
    learn = collab_learner(data, n_factors=8, y_range=None, wd=0.0, emb_l2=1e-3, lr=3e-2)
    learn.fit_one_cycle(40, 3e-2)
    return learn


def test_collab_recovers_a_low_rank_matrix_near_its_noise_floor(low_rank_learner) -> None:
    mse = low_rank_learner.validate()["valid_loss"]
    ratings = low_rank_learner.data.ratings["rating"]
    assert mse < 2.0 * NOISE**2, mse  # the noise floor is NOISE**2 = 0.09; the ratings' variance is about 1
    assert ratings.var() > 10 * NOISE**2


def test_predictions_stay_inside_y_range() -> None:
    model = EmbeddingDotBias(5, 7, n_factors=4, y_range=(0.5, 5.0))
    with torch.no_grad():
        model.u_weight.weight.mul_(1000)
        model.i_weight.weight.mul_(1000)
    users, items = torch.randint(0, 5, (200,)), torch.randint(0, 7, (200,))
    out = model(users, items)
    assert out.shape == (200,) and bool(((out >= 0.5) & (out <= 5.0)).all())
    nn_out = EmbeddingNN(5, 7, 4, 4, layers=[8], y_range=(1.0, 2.0))(users, items)
    assert nn_out.shape == (200,) and bool(((nn_out > 1.0) & (nn_out < 2.0)).all())


def test_predict_and_recommend_use_original_ids_and_skip_rated_items(low_rank_learner) -> None:
    learn = low_rank_learner
    ratings = learn.data.ratings
    user = ratings["user"].iloc[0]
    rating = learn.predict(user, int(ratings["item"].iloc[0]))
    assert isinstance(rating, float)
    top = learn.recommend(user, k=5)
    rated = set(ratings.loc[ratings["user"] == user, "item"])
    assert len(top) == 5 and not rated & set(top["item"])
    assert top["predicted"].is_monotonic_decreasing and top["title"].str.startswith("Film").all()
    unrated = sorted(set(range(100, 160)) - rated)
    best_unrated = max(unrated, key=lambda i: learn.predict(user, i))
    assert top["item"].iloc[0] == best_unrated
    with_rated = learn.recommend(user, k=60, exclude_rated=False)
    assert rated <= set(with_rated["item"])


def test_unknown_ids_get_a_clear_message_not_a_key_error(low_rank_learner) -> None:
    learn = low_rank_learner
    with pytest.raises(UnknownIdError, match="unknown user 'nobody'.*no ratings in the training data"):
        learn.predict("nobody", 100)
    with pytest.raises(ValueError, match="unknown item 99999"):
        learn.predict("u0", 99999)
    try:
        learn.recommend("nobody")
    except KeyError:  # pragma: no cover - the failure this test guards against
        pytest.fail("an unknown id raised KeyError")
    except UnknownIdError:
        pass


def test_item_bias_and_pca_tables(low_rank_learner) -> None:
    learn = low_rank_learner
    best, worst = learn.item_bias(n=5, top=50)
    assert len(best) == len(worst) == 5
    assert best["bias"].is_monotonic_decreasing and worst["bias"].is_monotonic_increasing
    assert best["bias"].iloc[0] >= worst["bias"].iloc[0]
    assert {"item", "title", "bias", "mean_rating", "n_ratings"} <= set(best.columns)
    pca = learn.item_pca(n_components=3, top=50)
    assert list(pca.columns) == ["item", "title", "pc1", "pc2", "pc3"] and len(pca) == 50
    ratios = pca.attrs["explained_variance_ratio"]
    assert ratios == sorted(ratios, reverse=True) and 0 < sum(ratios) <= 1 + 1e-6
    assert learn.weight([100, 101]).shape == (2, 8) and learn.bias(["u1"], is_item=False).shape == (1,)


def test_embedding_l2_adds_a_penalty_only_while_training() -> None:
    data = collab_data(low_rank_ratings(20, 15), bs=32)
    learn = collab_learner(data, n_factors=4, wd=0.0)
    penalty = EmbeddingL2(0.5)
    learn.add_cb(penalty)
    learn.batch = next(iter(data.dls.train))
    learn.loss = torch.tensor(1.0)
    learn.training = True
    penalty.after_loss()
    users, items, _ = learn.batch
    rows = learn.model.embeddings_used(users, items)
    expected = 1.0 + 0.5 * sum(float(r.detach().pow(2).sum()) for r in rows) / len(users)
    assert float(learn.loss.detach()) == pytest.approx(expected)
    learn.training, learn.loss = False, torch.tensor(1.0)
    penalty.after_loss()
    assert float(learn.loss) == 1.0


def test_id_map_and_split() -> None:
    ids = IdMap([3, 1, 2.0, np.int64(2)], "user")
    assert ids.classes == ["#na#", 1, 2, 3] and ids.index_of(np.int64(3)) == 3 and 2.0 in ids
    assert ids.encode([1, 7]).tolist() == [1, 0]
    ratings = low_rank_ratings(30, 20)
    a, b = collab_data(ratings, seed=5), collab_data(ratings, seed=5)
    assert a.valid_idx.tolist() == b.valid_idx.tolist()
    assert len(a.valid_idx) == round(0.1 * len(ratings))
    with pytest.raises(ValueError, match="columns"):
        collab_data(ratings, rating_name="stars")


def test_movielens_readers(tmp_path: Path) -> None:
    (tmp_path / "u.data").write_text("196\t242\t3\t881250949\n186\t302\t3\t891717742\n")
    genres = ["unknown", "Action", "Comedy"]
    (tmp_path / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(genres)) + "\n")
    item_lines = [
        "242|Kolya (1996)|24-Jan-1997||http://x|0|0|1",
        "302|L.A. Confidential (1997)|01-Jan-1997||x|0|1|0",
        "267|unknown|||x|1|0|0",
        "1|Café Lumière (2003)|||x|0|0|1",
    ]
    (tmp_path / "u.item").write_bytes("\n".join(item_lines).encode("latin-1"))
    (tmp_path / "u.user").write_text("196|49|M|writer|55105\n186|39|F|executive|00000\n")
    ml = read_ml100k(tmp_path)
    assert ml.ratings.columns.tolist() == ["user", "item", "rating", "timestamp"] and len(ml.ratings) == 2
    assert ml.genres == genres and ml.titles()[1] == "Café Lumière (2003)"
    years = ml.items.set_index("item")["year"]
    assert years[242] == 1997 and years[1] == 2003 and pd.isna(years[267])
    assert ml.users["occupation"].tolist() == ["writer", "executive"]
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating,timestamp\n73,1097,4.0,1255504951\n")
    assert read_ratings_csv(tmp_path / "ratings.csv").iloc[0].tolist() == [73, 1097, 4.0, 1255504951]
    assert len(read_movielens(tmp_path / "ratings.csv").ratings) == 1
    with pytest.raises(FileNotFoundError, match="u.data"):
        read_ml100k(tmp_path / "missing")


def test_generated_movielens_has_the_ml100k_shape() -> None:
    ml = make_movielens(seed=0)
    ratings = ml.ratings
    assert len(ratings) == 100_000 and ratings["user"].nunique() == 943 and ratings["item"].max() <= 1682
    assert not ratings.duplicated(["user", "item"]).any() and set(ratings["rating"]) <= {1, 2, 3, 4, 5}
    assert ratings.groupby("user").size().min() >= 20 and 3.3 < ratings["rating"].mean() < 3.8
    assert len(ml.users) == 943 and len(ml.items) == 1682 and ml.titles()[1].startswith("Generated Movie")
    small = make_movielens(n_users=30, n_items=60, n_ratings=800, seed=1)
    assert small.ratings.equals(make_movielens(n_users=30, n_items=60, n_ratings=800, seed=1).ratings)


def test_fast_recipe_scales_the_batch_to_the_data() -> None:
    assert fast_recipe(90_000) == {"bs": 1024, "epochs": 5, "lr": 2e-2, "wd": 0.0, "emb_l2": 0.1}
    small = fast_recipe(5_428)  # fastai's ML_SAMPLE training rows
    assert small["bs"] == 128 and small["lr"] == pytest.approx(2e-2 * (128 / 1024) ** 0.5, abs=1e-4)
    assert fast_recipe(10)["bs"] == 64
