"""Tabular procs, splits, processed display, readers and generators (no training here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.datasets.tabular import make_census, make_store_sales, read_adult_csv, read_uci_adult
from engine.tabular import (
    NA_CATEGORY,
    Categorify,
    FillMissing,
    Normalize,
    TabularProcessor,
    random_split,
    split_by_date,
    split_by_idx,
    tabular_data,
)

PROCS = [FillMissing, Categorify, Normalize]


@pytest.fixture
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    train = pd.DataFrame(
        {
            "color": ["red", "blue", None, "red"],
            "size": [1.0, np.nan, 3.0, 100.0],
            "weight": [2.0, 4.0, 6.0, 8.0],
        }
    )
    valid = pd.DataFrame({"color": ["green", "blue"], "size": [np.nan, 1000.0], "weight": [np.nan, 4.0]})
    return train, valid


def test_fill_missing_uses_the_training_median_and_adds_na_only_where_training_had_nan(frames) -> None:
    train, valid = frames
    processor = TabularProcessor(PROCS, ["color"], ["size", "weight"]).fit(train)
    fill = processor.procs[0]
    assert fill.fill == {"size": 3.0, "weight": 5.0}  # medians of the training rows, not of the valid rows
    assert processor.names.cats == ["color", "size_na"]  # weight had no NaN in training: no weight_na
    out = processor.transform(valid)
    raw = out.frame
    assert list(raw["size_na"]) == [2, 1]  # codes of True / False in ['#na#', False, True]
    assert "weight_na" not in raw.columns
    assert any("'weight' had no missing values in training" in note for note in out.notes)


def test_categorify_maps_unseen_and_missing_values_to_na(frames) -> None:
    train, valid = frames
    processor = TabularProcessor(PROCS, ["color"], ["size", "weight"]).fit(train)
    categorify = processor.categorify
    assert categorify.classes["color"] == [NA_CATEGORY, "blue", "red"]
    codes = processor.transform(pd.DataFrame({"color": ["green", None, "red"], "size": 1, "weight": 1})).cats
    assert codes[:, 0].tolist() == [0, 0, 2]


def test_normalize_uses_training_statistics(frames) -> None:
    train, valid = frames
    processor = TabularProcessor(PROCS, ["color"], ["size", "weight"]).fit(train)
    normalize = processor.procs[2]
    filled_size = np.array([1.0, 3.0, 3.0, 100.0])  # NaN filled with the median before the statistics
    assert normalize.means["size"] == pytest.approx(filled_size.mean())
    assert normalize.stds["size"] == pytest.approx(filled_size.std())
    conts = processor.transform(train).conts
    assert conts.mean(axis=0) == pytest.approx([0.0, 0.0], abs=1e-6)
    assert processor.transform(valid).conts[1, 0] == pytest.approx(
        (1000 - filled_size.mean()) / filled_size.std()
    )


def test_proc_order_does_not_matter_and_state_round_trips(frames) -> None:
    train, valid = frames
    a = TabularProcessor([Normalize, Categorify, FillMissing], ["color"], ["size", "weight"]).fit(train)
    b = TabularProcessor.from_state(a.state())
    for left, right in ((a.transform(valid), b.transform(valid)), (a.transform(train), b.transform(train))):
        np.testing.assert_array_equal(left.cats, right.cats)
        np.testing.assert_allclose(left.conts, right.conts)
    assert b.names == a.names


def test_absent_column_and_text_in_a_number_column_are_reported_not_raised(frames) -> None:
    train, _ = frames
    processor = TabularProcessor(PROCS, ["color"], ["size", "weight"]).fit(train)
    out = processor.transform(pd.DataFrame({"size": ["big"]}))
    assert out.cats.tolist() == [[0, 2]] and np.isfinite(out.conts).all()
    notes = " | ".join(out.notes)
    assert "'big' is not a number" in notes and "'weight' is absent" in notes and "'color' is absent" in notes


def test_missing_continuous_values_without_fill_missing_give_a_clear_error(frames) -> None:
    train, _ = frames
    with pytest.raises(ValueError, match="add FillMissing"):
        TabularProcessor([Categorify, Normalize], ["color"], ["size"]).fit(train).transform(train)


def test_splits() -> None:
    df = make_census(n_rows=200, seed=1)
    train, valid = split_by_idx(range(50, 60))(df)
    assert valid.tolist() == list(range(50, 60)) and len(train) == 190 and not set(train) & set(valid)
    train, valid = split_by_date("date", valid_pct=0.25)(df)
    assert df["date"].iloc[train].max() < df["date"].iloc[valid].min()
    assert 0.15 < len(valid) / len(df) < 0.35
    first, second = random_split(0.2, seed=3)(df), random_split(0.2, seed=3)(df)
    assert first[1].tolist() == second[1].tolist() and len(first[1]) == 40
    assert random_split(0.2, seed=4)(df)[1].tolist() != first[1].tolist()
    with pytest.raises(ValueError, match="positions"):
        split_by_idx([500])(df)


def test_tabular_data_builds_loaders_and_show_processed_explains_a_row() -> None:
    df = make_census(n_rows=300, seed=2)
    data = tabular_data(
        df,
        ["workclass", "occupation"],
        ["age", "education-num"],
        "salary",
        PROCS,
        valid_idx=range(250, 300),
        bs=32,
    )
    cats, conts, y = next(iter(data.dls.train))
    assert cats.dtype.is_floating_point is False and cats.shape == (32, len(data.cat_names))
    assert conts.shape == (32, 2) and y.shape == (32,)
    assert data.classes == ["<50k", ">=50k"]
    assert "age_na" in data.cat_names
    shown = data.show_processed({"workclass": "Private", "age": None, "occupation": "Astronaut"})
    row = shown.set_index("column")
    assert row.loc["age_na", "meaning"] is True and row.loc["occupation", "meaning"] == NA_CATEGORY
    assert row.loc["education-num", "raw"] == "<absent>"
    assert any("Astronaut" in note for note in shown.attrs["notes"])


def test_tabular_data_rejects_unknown_columns() -> None:
    with pytest.raises(ValueError, match="not in the data"):
        tabular_data(make_census(n_rows=50), ["nope"], ["age"], "salary")


def test_adult_readers(tmp_path: Path) -> None:
    header = "age,workclass,fnlwgt,education,education-num,marital-status,occupation,relationship,race,sex,"
    header += "capital-gain,capital-loss,hours-per-week,native-country,salary\n"
    row = "49, Private,101320, Assoc-acdm,12.0, Married-civ-spouse,?, Wife, White, Female,0,1902,40, United-States,"
    (tmp_path / "adult.csv").write_text(header + row + ">=50k\n" + row.replace("12.0", "") + "<50k\n")
    df = read_adult_csv(tmp_path / "adult.csv")
    assert df["workclass"].tolist() == ["Private", "Private"] and df["occupation"].isna().all()
    assert np.isnan(df["education-num"].iloc[1])
    uci_row = (
        "39, State-gov, 77516, Bachelors, 13, Never-married, ?, Not-in-family, White, Male, 2174, 0, 40, ?, "
    )
    (tmp_path / "adult.data").write_text(uci_row + "<=50K\n" + uci_row + ">50K\n")
    (tmp_path / "adult.test").write_text(
        "|1x3 Cross validator\n" + uci_row + "<=50K.\n" + uci_row + ">50K.\n"
    )
    train, test = read_uci_adult(tmp_path)
    assert train["salary"].tolist() == ["<=50K", ">50K"] and test["salary"].tolist() == ["<=50K", ">50K"]
    assert test["occupation"].isna().all() and test["native-country"].isna().all() and len(test) == 2


def test_generators_are_deterministic_and_shaped() -> None:
    census = make_census(n_rows=500, seed=7)
    assert census.equals(make_census(n_rows=500, seed=7))
    assert census[["age", "education-num", "occupation"]].isna().any().all()
    assert census["date"].is_monotonic_increasing and set(census["salary"]) == {"<50k", ">=50k"}
    sales = make_store_sales(n_stores=3, n_days=60, seed=1)
    assert len(sales) == 180 and (sales.loc[sales["open"] == 0, "sales"] == 0).all()
    open_days = sales[sales["open"] == 1]
    assert open_days.groupby("promo")["sales"].mean()[1] > open_days.groupby("promo")["sales"].mean()[0]
