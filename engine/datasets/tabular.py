"""Tabular readers (fastai's `adult.csv`, UCI `adult.data` / `adult.test`) and offline generators.

    df = read_adult_csv("adult.csv")              # fastai ADULT_SAMPLE: `?` and empty cells are missing
    train, test = read_uci_adult("folder")        # UCI files: no header, `?` missing, test labels end in "."
    df = make_census(n_rows=2000, seed=0)         # census-like rows with missing values and a `date` column
    sales = make_store_sales(n_stores=10, n_days=730, seed=0)   # daily store sales (tabular time series)

Strings are stripped of the spaces the census files put after each comma, so `"Private"` not `" Private"`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
    "salary",
]
ADULT_CAT_NAMES = ["workclass", "education", "marital-status", "occupation", "relationship", "race"]
ADULT_CONT_NAMES = ["age", "fnlwgt", "education-num"]


def _strip_strings(df: pd.DataFrame) -> pd.DataFrame:
    for col in df.columns:
        if not pd.api.types.is_numeric_dtype(df[col]):
            df[col] = df[col].str.strip().replace({"?": np.nan, "": np.nan})
    return df


def read_adult_csv(path: str | Path, nrows: int | None = None) -> pd.DataFrame:
    """fastai's ADULT_SAMPLE `adult.csv` (header row, target `salary` as `<50k` / `>=50k`); the first
    `nrows` rows when given."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"adult.csv: {path} does not exist")
    df = pd.read_csv(path, skipinitialspace=True, na_values=["?"], nrows=nrows)
    missing = [c for c in ADULT_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: not fastai's adult.csv layout, missing columns {missing}")
    return _strip_strings(df)


def _read_uci_file(path: Path, skip_comment: bool) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"UCI adult: {path} does not exist")
    df = pd.read_csv(
        path,
        header=None,
        names=ADULT_COLUMNS,
        skipinitialspace=True,
        na_values=["?"],
        skiprows=1 if skip_comment else 0,
        comment=None,
        skip_blank_lines=True,
    )
    df = _strip_strings(df.dropna(subset=["salary"]))
    df["salary"] = df["salary"].str.rstrip(".")  # adult.test writes ">50K." and "<=50K."
    return df.reset_index(drop=True)


def read_uci_adult(folder: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """UCI `adult.data` and `adult.test` (its first line is a comment; its labels end with `.`)."""
    folder = Path(folder)
    return _read_uci_file(folder / "adult.data", False), _read_uci_file(folder / "adult.test", True)


# ---------------------------------------------------------------------------------------------- generators

_WORKCLASSES = ["Private", "Self-emp-not-inc", "Self-emp-inc", "Federal-gov", "Local-gov", "State-gov"]
_EDUCATION = [
    ("HS-grad", 9),
    ("Some-college", 10),
    ("Bachelors", 13),
    ("Masters", 14),
    ("Assoc-voc", 11),
    ("11th", 7),
    ("Doctorate", 16),
    ("Prof-school", 15),
]
_MARITAL = ["Married-civ-spouse", "Never-married", "Divorced", "Separated", "Widowed"]
_OCCUPATIONS = [
    "Prof-specialty",
    "Craft-repair",
    "Exec-managerial",
    "Adm-clerical",
    "Sales",
    "Other-service",
    "Machine-op-inspct",
    "Transport-moving",
    "Tech-support",
]


def _with_missing(rng: np.random.Generator, values: np.ndarray, fraction: float) -> np.ndarray:
    values = values.astype(object)
    values[rng.random(len(values)) < fraction] = np.nan
    return values


def make_census(
    n_rows: int = 2000, missing_frac: float = 0.05, start: str = "2015-01-01", seed: int = 0
) -> pd.DataFrame:
    """Census-like rows: the adult columns the lesson uses, a `date` column, and a learnable `salary`.

    Income odds rise with education, age (up to ~50), marriage and managerial/professional jobs, so a
    model has something real to learn. `occupation`, `education-num` and `age` have missing values
    (`missing_frac` of rows each). Dates run over two years in row order, for a split by the last period.
    """
    rng = np.random.default_rng(seed)
    age = np.clip(rng.normal(39, 13, n_rows), 17, 90).round()
    edu_idx = rng.choice(len(_EDUCATION), n_rows, p=[0.32, 0.22, 0.17, 0.06, 0.05, 0.1, 0.03, 0.05])
    education = np.array([_EDUCATION[i][0] for i in edu_idx])
    education_num = np.array([_EDUCATION[i][1] for i in edu_idx], dtype=float)
    marital = rng.choice(_MARITAL, n_rows, p=[0.46, 0.33, 0.13, 0.04, 0.04])
    occupation = rng.choice(_OCCUPATIONS, n_rows)
    workclass = rng.choice(_WORKCLASSES, n_rows, p=[0.7, 0.08, 0.04, 0.04, 0.07, 0.07])
    relationship = np.where(
        marital == "Married-civ-spouse",
        rng.choice(["Husband", "Wife"], n_rows, p=[0.85, 0.15]),
        rng.choice(["Not-in-family", "Own-child", "Unmarried"], n_rows),
    )
    race = rng.choice(["White", "Black", "Asian-Pac-Islander", "Other"], n_rows, p=[0.85, 0.1, 0.03, 0.02])
    logit = (
        -8.6
        + 0.45 * education_num
        + 0.06 * np.minimum(age, 50)
        + 1.6 * (marital == "Married-civ-spouse")
        + 0.8 * np.isin(occupation, ["Exec-managerial", "Prof-specialty"])
        + rng.normal(0, 0.5, n_rows)
    )
    salary = np.where(rng.random(n_rows) < 1 / (1 + np.exp(-logit)), ">=50k", "<50k")
    dates = pd.Timestamp(start) + pd.to_timedelta(np.sort(rng.integers(0, 730, n_rows)), unit="D")
    return pd.DataFrame(
        {
            "date": dates,
            "age": _with_missing(rng, age, missing_frac).astype(float),
            "workclass": workclass,
            "fnlwgt": rng.lognormal(12, 0.5, n_rows).round(),
            "education": education,
            "education-num": _with_missing(rng, education_num, missing_frac).astype(float),
            "marital-status": marital,
            "occupation": _with_missing(rng, occupation, missing_frac),
            "relationship": relationship,
            "race": race,
            "salary": salary,
        }
    )


def make_store_sales(
    n_stores: int = 10, n_days: int = 730, start: str = "2014-01-01", seed: int = 0
) -> pd.DataFrame:
    """A daily sales series per store (Rossmann-like): store, date, day of week, promo, holiday, open, competition.

    Sales = store level x weekday pattern x promo lift x holiday dip x competition effect x yearly season,
    with noise; closed days sell 0. Columns: `store, date, day_of_week, month, day, promo, state_holiday,
    school_holiday, open, competition_distance, competition_open, sales`. Each feature is in the row itself,
    which is the point of the "tabular time series: don't use an RNN" lesson.
    """
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=n_days, freq="D")
    store = np.repeat(np.arange(1, n_stores + 1), n_days)
    date = np.tile(dates.to_numpy(), n_stores)
    dow = np.tile(dates.day_of_week.to_numpy(), n_stores)
    day_of_year = np.tile(dates.day_of_year.to_numpy(), n_stores)
    holidays = rng.random(n_days) < 0.03
    state_holiday = np.tile(holidays, n_stores)
    school_holiday = np.tile((rng.random(n_days) < 0.15) | holidays, n_stores)
    promo = np.tile((np.arange(n_days) // 7) % 2 == 0, n_stores) & (dow < 5)
    open_ = ~((dow == 6) | state_holiday | (rng.random(len(store)) < 0.01))
    level = rng.lognormal(8.5, 0.35, n_stores)[store - 1]
    distance = rng.choice([300, 800, 2000, 6000, 20000], n_stores)[store - 1].astype(float)
    opens_on = rng.integers(n_days // 4, n_days, n_stores)[store - 1]
    competition_open = np.tile(np.arange(n_days), n_stores) >= opens_on
    weekday = np.array([1.15, 1.0, 0.95, 0.95, 1.05, 1.2, 0.0])[dow]
    competition = np.where(competition_open, 1 - 0.25 * np.exp(-distance / 3000), 1.0)
    season = 1 + 0.12 * np.sin(2 * np.pi * (day_of_year - 80) / 365) + 0.2 * (day_of_year > 340)
    sales = (
        level
        * weekday
        * np.where(promo, 1.25, 1.0)
        * competition
        * season
        * rng.lognormal(0, 0.08, len(store))
    )
    sales = np.where(open_, np.round(sales), 0.0)
    dt = pd.DatetimeIndex(date)
    return pd.DataFrame(
        {
            "store": store,
            "date": dt,
            "day_of_week": dow,
            "month": dt.month,
            "day": dt.day,
            "promo": promo.astype(int),
            "state_holiday": state_holiday.astype(int),
            "school_holiday": school_holiday.astype(int),
            "open": open_.astype(int),
            "competition_distance": distance,
            "competition_open": competition_open.astype(int),
            "sales": sales,
        }
    )
