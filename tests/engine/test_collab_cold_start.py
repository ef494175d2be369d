"""Cold start: the metadata model predicts for users it never saw, and the predictor falls back to it."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from engine.collab import UnknownIdError, collab_data, collab_learner
from engine.collab.cold_start import (
    ColdStartPredictor,
    MetadataFeaturizer,
    cold_start_data,
    cold_start_learner,
)
from engine.datasets.movielens import make_movielens
from engine.utils import set_seed


@pytest.fixture(scope="module")
def trained():
    set_seed(0)
    torch.set_num_threads(1)
    ml = make_movielens(n_users=300, n_items=400, n_ratings=20_000, seed=3)
    data = cold_start_data(ml, new_user_pct=0.15, seed=42, bs=512)
    cold = cold_start_learner(data, n_factors=8)
    cold.fit_one_cycle(4, 1e-2)
    return ml, data, cold


def test_new_users_are_truly_held_out(trained) -> None:
    _, data, _ = trained
    ratings = data.ratings
    train_users = set(ratings["user"].iloc[data.train_idx])
    valid_users = set(ratings["user"].iloc[data.valid_idx])
    assert not train_users & valid_users and len(valid_users) == 45


def test_cold_start_beats_the_global_mean_on_new_users(trained) -> None:
    _, data, cold = trained
    mse = cold.validate()["valid_loss"]
    baseline = data.global_mean_mse()
    assert mse < 0.9 * baseline, (mse, baseline)


def test_metadata_alone_beats_the_global_mean_for_new_users_and_new_items(trained) -> None:
    ml, data, cold = trained
    valid = data.ratings.iloc[data.valid_idx]
    users, items = valid["user"].tolist(), valid["item"].tolist()
    model = cold.model.eval()
    with torch.no_grad():  # hide every id: pure metadata on both sides
        u_feats = torch.from_numpy(data.user_features.features_of(users, "user"))
        i_feats = torch.from_numpy(data.item_features.features_of(items, "item"))
        zeros = torch.zeros(len(users), dtype=torch.long)
        pred = model(zeros, u_feats, zeros, i_feats)
    mse = float(((pred - torch.tensor(valid["rating"].to_numpy(dtype="float32"))) ** 2).mean())
    assert mse < data.global_mean_mse(), (mse, data.global_mean_mse())


def test_predict_for_a_user_given_only_by_metadata(trained) -> None:
    _, data, cold = trained
    item = data.ratings["item"].iloc[0]
    student = cold.predict(10_000, item, user_meta={"age": 20, "gender": "F", "occupation": "student"})
    assert 0 < student < 5.5
    with pytest.raises(UnknownIdError, match="no metadata for user 10000"):
        cold.predict(10_000, item)
    partial = cold.predict(10_000, item, user_meta={"age": None})  # missing fields fall back to the mean
    assert 0 < partial < 5.5


def test_predictor_falls_back_to_metadata_for_unseen_ids(trained) -> None:
    ml, data, cold = trained
    train_rows = data.ratings.iloc[data.train_idx]
    collab = collab_learner(collab_data(train_rows, valid_pct=0.1, seed=1, bs=512), n_factors=8)
    predictor = ColdStartPredictor(collab, cold)
    known = collab.data.ratings.iloc[collab.data.train_idx[0]]
    known_user, known_item = known["user"], known["item"]
    assert predictor.predict(known_user, known_item).source == "collab"
    new_user = data.ratings["user"].iloc[data.valid_idx[0]]
    rating = predictor.predict(new_user, known_item)
    assert rating.source == "metadata" and 0 < rating.value < 5.5


def test_featurizer_handles_unknown_categories_and_missing_numbers() -> None:
    table = pd.DataFrame({"user": [1, 2, 3], "age": [20, 30, 40], "job": ["a", "b", "a"]})
    featurizer = MetadataFeaturizer(table, "user", numeric=["age"], categorical=["job"])
    assert featurizer.n_features == 4
    rows = featurizer.transform(pd.DataFrame({"age": [30, None], "job": ["b", "zzz"]}))
    assert rows.tolist() == [[0.0, -1.0, 0.0, 1.0], [0.0, -1.0, 0.0, 0.0]]
    with pytest.raises(ValueError, match="lacks columns"):
        MetadataFeaturizer(table, "user", numeric=["height"])
