"""collab_data and cold_start_data with explicit validation rows (the labs' train / tune / held-out splits)."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.collab import collab_data
from engine.collab.cold_start import cold_start_data
from engine.datasets.movielens import make_movielens


def test_collab_data_validates_exactly_the_rows_given() -> None:
    ratings = pd.DataFrame(
        {"user": [1, 1, 2, 2, 3, 3], "item": [1, 2, 1, 2, 1, 3], "rating": [1, 2, 3, 4, 5, 1]}
    )
    data = collab_data(ratings, valid_idx=[1, 5], bs=2)
    assert data.valid_idx.tolist() == [1, 5] and data.train_idx.tolist() == [0, 2, 3, 4]
    assert 3 not in data.items  # item 3 is only in a validation row: ids come from the training rows
    with pytest.raises(ValueError, match="valid_idx"):
        collab_data(ratings, valid_idx=[])


def test_cold_start_data_validates_the_rows_given_and_can_leave_out_user_metadata() -> None:
    ml = make_movielens(n_users=30, n_items=60, n_ratings=700, seed=0)
    data = cold_start_data(ml, valid_idx=range(50), user_numeric=(), user_categorical=(), bs=64)
    assert data.valid_idx.tolist() == list(range(50)) and len(data.train_idx) == 650
    assert data.user_features.n_features == 0
