"""TabularModel sizes, learning a tiny census set, predict on raw rows, export/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from engine.datasets.tabular import make_census, make_store_sales
from engine.metrics import accuracy
from engine.tabular import (
    Categorify,
    FillMissing,
    Normalize,
    TabularModel,
    emb_sz_rule,
    get_emb_szs,
    load_tabular,
    split_by_date,
    tabular_data,
    tabular_learner,
)
from engine.utils import set_seed

CATS = ["workclass", "education", "marital-status", "occupation", "relationship", "race"]
CONTS = ["age", "fnlwgt", "education-num"]


@pytest.fixture(scope="module")
def census_learner():
    set_seed(0)
    torch.set_num_threads(1)
    df = make_census(n_rows=1500, seed=3)
    data = tabular_data(
        df,
        CATS,
        CONTS,
        "salary",
        [FillMissing, Categorify, Normalize],
        valid_idx=range(1200, 1500),
        bs=128,
        seed=0,
    )
    learn = tabular_learner(data, layers=[32, 16], metrics=accuracy)
    learn.fit_one_cycle(4, 3e-2)
    return df, learn


def test_emb_sz_rule_matches_the_lesson_formula() -> None:
    assert [emb_sz_rule(n) for n in (2, 10, 100, 1_000_000)] == [2, 6, 21, 600]
    assert emb_sz_rule(17) == round(1.6 * 17**0.56)


def test_embedding_sizes_follow_the_category_counts_and_overrides() -> None:
    df = make_census(n_rows=200, seed=0)
    data = tabular_data(df, ["workclass", "race"], ["age"], "salary", valid_idx=range(150, 200))
    counts = data.processor.category_counts()
    sizes = get_emb_szs(data, {"race": 3})
    assert sizes == [
        (counts["workclass"], emb_sz_rule(counts["workclass"])),
        (counts["race"], 3),
        (counts["age_na"], emb_sz_rule(counts["age_na"])),
    ]
    model = TabularModel(sizes, n_cont=1, out_sz=2, layers=[8])
    assert [e.num_embeddings for e in model.embeds] == [s[0] for s in sizes]
    with pytest.raises(ValueError, match="not categorical"):
        get_emb_szs(data, {"age": 4})


def test_model_layers_and_y_range() -> None:
    model = TabularModel([(5, 3)], n_cont=2, out_sz=1, layers=[8, 4], ps=0.1, y_range=(1.0, 2.0))
    kinds = [type(m).__name__ for m in model.layers]
    assert kinds == ["Linear", "ReLU", "BatchNorm1d", "Dropout"] * 2 + ["Linear"]
    model.eval()
    torch.manual_seed(0)
    out = model(torch.randint(0, 5, (64, 1)), torch.randn(64, 2) * 100)
    assert out.shape == (64, 1) and bool(
        ((out >= 1.0) & (out <= 2.0)).all()
    )  # float32 sigmoid may touch the ends


def test_a_tiny_census_set_is_learned(census_learner) -> None:
    df, learn = census_learner
    majority = (df["salary"].iloc[1200:] == "<50k").mean()
    result = learn.validate()
    assert result["accuracy"] > majority + 0.08, (result, majority)


def test_predict_takes_rows_with_missing_and_unseen_values(census_learner) -> None:
    df, learn = census_learner
    label, index, probs = learn.predict(df.iloc[0])
    assert label in ("<50k", ">=50k") and learn.data.classes[index] == label
    assert probs.shape == (2,) and float(probs.sum()) == pytest.approx(1.0, abs=1e-5)
    row = df.iloc[1].to_dict() | {"age": None, "occupation": "Astronaut", "education": np.nan}
    del row["fnlwgt"]
    label, index, probs = learn.predict(row)
    assert label == learn.data.classes[index] and torch.isfinite(probs).all()
    notes = " | ".join(learn.last_notes)
    assert "Astronaut" in notes and "'fnlwgt' is absent" in notes
    frame = learn.predict_frame(df.iloc[:5])
    assert list(frame.columns) == ["prediction", "p_<50k", "p_>=50k"] and len(frame) == 5


def test_predict_is_deterministic_and_leaves_training_mode_alone(census_learner) -> None:
    df, learn = census_learner
    learn.model.train()
    first = learn.predict(df.iloc[3])[2]
    assert learn.model.training
    torch.testing.assert_close(first, learn.predict(df.iloc[3])[2])


def test_export_and_load_predict_the_same(census_learner, tmp_path: Path) -> None:
    df, learn = census_learner
    predictor = load_tabular(learn.export(tmp_path / "census.pt"))
    row = {"workclass": "Private", "age": 45, "education": "Masters"}
    torch.testing.assert_close(predictor.predict(row)[2], learn.predict(row)[2])
    assert predictor.last_notes == learn.last_notes


def test_regression_with_a_date_split_on_store_sales() -> None:
    set_seed(1)
    sales = make_store_sales(n_stores=6, n_days=300, seed=2)
    sales = sales[sales["open"] == 1].reset_index(drop=True)
    sales["log_sales"] = np.log(sales["sales"])
    cats = ["store", "day_of_week", "promo", "month", "competition_open", "state_holiday"]
    data = tabular_data(
        sales,
        cats,
        ["competition_distance"],
        "log_sales",
        splits=split_by_date("date", valid_pct=0.2),
        bs=64,
        seed=1,
    )
    assert data.is_regression
    low, high = float(sales["log_sales"].min()), float(sales["log_sales"].max())
    learn = tabular_learner(data, layers=[32], y_range=(low - 0.5, high + 0.5))
    learn.fit_one_cycle(8, 2e-2)
    baseline = float(
        (
            (sales["log_sales"].iloc[data.valid_idx] - sales["log_sales"].iloc[data.train_idx].mean()) ** 2
        ).mean()
    )
    assert learn.validate()["valid_loss"] < 0.4 * baseline  # measured: about 0.17 x
    value, index, out = learn.predict(sales.iloc[0])
    assert index is None and low - 0.5 < value < high + 0.5


def test_tabular_learner_needs_tabular_data() -> None:
    with pytest.raises(TypeError, match="tabular_data"):
        tabular_learner(pd.DataFrame())  # type: ignore[arg-type]
