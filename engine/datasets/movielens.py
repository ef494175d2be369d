"""MovieLens readers (ml-100k folder, fastai's ML_SAMPLE `ratings.csv`) and a MovieLens-shaped generator.

    ml = read_ml100k("path/to/ml-100k")       # MovieLens(ratings, items, users, genres)
    ratings = read_ratings_csv("ratings.csv")  # columns user, item, rating, timestamp
    ml = make_movielens(seed=0)                # 943 users, 1,682 items, 100,000 ratings, same columns

Every ratings frame has the columns `user, item, rating, timestamp`; items have `item, title, year` and one
0/1 column per genre; users have `user, age, gender, occupation, zip`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

RATING_COLUMNS = ["user", "item", "rating", "timestamp"]
ML100K_GENRES = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
]
ML100K_OCCUPATIONS = [
    "administrator",
    "artist",
    "doctor",
    "educator",
    "engineer",
    "entertainment",
    "executive",
    "healthcare",
    "homemaker",
    "lawyer",
    "librarian",
    "marketing",
    "none",
    "other",
    "programmer",
    "retired",
    "salesman",
    "scientist",
    "student",
    "technician",
    "writer",
]


@dataclass
class MovieLens:
    """Ratings plus (when known) item and user metadata."""

    ratings: pd.DataFrame  # user, item, rating, timestamp
    items: pd.DataFrame | None = None  # item, title, year, <genre 0/1 columns>
    users: pd.DataFrame | None = None  # user, age, gender, occupation, zip
    genres: list[str] | None = None

    def titles(self) -> dict[int, str]:
        """item id -> title (empty when item metadata is unknown)."""
        if self.items is None:
            return {}
        return dict(zip(self.items["item"].tolist(), self.items["title"].tolist()))


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"{what}: {path} does not exist")
    return path


def read_genres(path: str | Path) -> list[str]:
    """ml-100k `u.genre`: lines `name|index`, ordered by index."""
    rows = [
        line.rsplit("|", 1) for line in Path(path).read_text(encoding="latin-1").splitlines() if line.strip()
    ]
    return [name for name, _ in sorted(rows, key=lambda r: int(r[1]))]


def read_items(path: str | Path, genres: list[str] | None = None) -> pd.DataFrame:
    """ml-100k `u.item` (latin-1, `|`-separated): item, title, year and one 0/1 column per genre."""
    genres = genres or ML100K_GENRES
    names = ["item", "title", "release_date", "video_release_date", "url", *genres]
    items = pd.read_csv(path, sep="|", header=None, names=names, encoding="latin-1")
    dates = pd.to_datetime(items["release_date"], format="%d-%b-%Y", errors="coerce")
    title_year = pd.to_numeric(items["title"].str.extract(r"\((\d{4})\)\s*$")[0], errors="coerce")
    items["year"] = dates.dt.year.fillna(title_year).astype("Float64")
    return items[["item", "title", "year", *genres]]


def read_users(path: str | Path) -> pd.DataFrame:
    """ml-100k `u.user` (`|`-separated): user, age, gender, occupation, zip."""
    return pd.read_csv(path, sep="|", header=None, names=["user", "age", "gender", "occupation", "zip"])


def read_ml100k(folder: str | Path, nrows: int | None = None) -> MovieLens:
    """An ml-100k folder: `u.data` ratings (tab-separated; the first `nrows`) plus `u.item`, `u.user`,
    `u.genre` if present."""
    folder = Path(folder)
    ratings_path = _require(folder / "u.data", "MovieLens-100k ratings")
    ratings = pd.read_csv(ratings_path, sep="\t", header=None, names=RATING_COLUMNS, nrows=nrows)
    genres = read_genres(folder / "u.genre") if (folder / "u.genre").exists() else ML100K_GENRES
    items = read_items(folder / "u.item", genres) if (folder / "u.item").exists() else None
    users = read_users(folder / "u.user") if (folder / "u.user").exists() else None
    return MovieLens(ratings, items, users, genres)


def read_ratings_csv(path: str | Path, nrows: int | None = None) -> pd.DataFrame:
    """fastai's ML_SAMPLE `ratings.csv` (userId, movieId, rating, timestamp) as user, item, rating, timestamp;
    the first `nrows` rows when given."""
    frame = pd.read_csv(_require(Path(path), "ratings CSV"), nrows=nrows)
    frame = frame.rename(columns={"userId": "user", "movieId": "item"})
    missing = [c for c in ("user", "item", "rating") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: expected columns userId, movieId, rating; missing {missing}")
    if "timestamp" not in frame.columns:
        frame["timestamp"] = 0
    return frame[RATING_COLUMNS]


def read_movielens(path: str | Path, nrows: int | None = None) -> MovieLens:
    """An ml-100k folder, a ratings CSV file or the folder holding one (fastai's ML_SAMPLE), at most
    `nrows` ratings when given."""
    path = Path(path)
    if path.is_dir() and not (path / "u.data").exists() and (path / "ratings.csv").is_file():
        path = path / "ratings.csv"
    return read_ml100k(path, nrows) if path.is_dir() else MovieLens(read_ratings_csv(path, nrows))


# ---------------------------------------------------------------------------------------------- generator


def _generate_users(rng: np.random.Generator, n_users: int) -> pd.DataFrame:
    age = np.clip(rng.gamma(7.0, 4.8, n_users) + 7, 7, 73).round().astype(int)
    gender = np.where(rng.random(n_users) < 0.71, "M", "F")
    weights = rng.dirichlet(np.full(len(ML100K_OCCUPATIONS), 1.5))
    occupation = rng.choice(ML100K_OCCUPATIONS, n_users, p=weights)
    occupation[age < 23] = np.where(rng.random((age < 23).sum()) < 0.7, "student", occupation[age < 23])
    zips = [f"{z:05d}" for z in rng.integers(1000, 99999, n_users)]
    users = {"user": np.arange(1, n_users + 1), "age": age, "gender": gender, "occupation": occupation}
    return pd.DataFrame({**users, "zip": zips})


def _generate_items(rng: np.random.Generator, n_items: int) -> pd.DataFrame:
    year = np.clip(np.round(1998 - rng.gamma(1.2, 9.0, n_items)), 1922, 1998).astype(int)
    genre_p = np.array(
        [
            0.002,
            0.15,
            0.08,
            0.025,
            0.07,
            0.30,
            0.065,
            0.03,
            0.43,
            0.013,
            0.014,
            0.055,
            0.033,
            0.036,
            0.147,
            0.06,
            0.15,
            0.042,
            0.016,
        ]
    )
    flags = (rng.random((n_items, len(ML100K_GENRES))) < genre_p).astype(int)
    no_genre = flags.sum(1) == 0
    flags[no_genre, rng.choice(len(ML100K_GENRES), no_genre.sum(), p=genre_p / genre_p.sum())] = 1
    titles = [f"Generated Movie {i:04d} ({y})" for i, y in zip(range(1, n_items + 1), year)]
    items = pd.DataFrame({"item": np.arange(1, n_items + 1), "title": titles, "year": year})
    return pd.concat([items, pd.DataFrame(flags, columns=ML100K_GENRES)], axis=1)


def user_features(users: pd.DataFrame) -> np.ndarray:
    """Dense user metadata features: scaled age, age², gender, one-hot occupation (generator and tests)."""
    age = (users["age"].to_numpy(dtype=float) - 33.0) / 12.0
    gender = (users["gender"].to_numpy() == "F").astype(float)
    occupation = (users["occupation"].to_numpy()[:, None] == np.array(ML100K_OCCUPATIONS)).astype(float)
    return np.column_stack([age, age**2 - 1, gender, occupation])


def item_features(items: pd.DataFrame, genres: list[str] = ML100K_GENRES) -> np.ndarray:
    """Dense item metadata features: scaled year, old-film flag, genre flags."""
    year = items["year"].astype(float).fillna(1990.0).to_numpy()
    scaled = (year - 1988.0) / 14.0
    return np.column_stack([scaled, (year < 1970).astype(float), items[genres].to_numpy(dtype=float)])


def _sample_pairs(
    rng: np.random.Generator, n_users: int, n_items: int, n_ratings: int, min_per_user: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user index, item index) pairs: long-tailed user activity, Zipf-like item popularity, no repeats."""
    extra = n_ratings - min_per_user * n_users
    if extra < 0 or n_ratings > n_users * n_items // 2:
        raise ValueError(
            f"n_ratings={n_ratings} must lie in {min_per_user * n_users}..{n_users * n_items // 2}"
        )
    cap = max(min_per_user, min(n_items // 2, 800))
    share = rng.lognormal(0.0, 1.0, n_users)
    counts = np.full(n_users, min_per_user)
    while extra > 0:  # hand out the remaining ratings by activity, never past the cap
        room = counts < cap
        add = rng.multinomial(extra, share * room / (share * room).sum())
        counts = np.minimum(counts + add, cap)
        extra = n_ratings - counts.sum()
    popularity = 1.0 / np.arange(1, n_items + 1) ** 1.1
    popularity = popularity[rng.permutation(n_items)]
    users, items = [], []
    for u, count in enumerate(counts):
        keys = rng.random(n_items) ** (1.0 / popularity)  # weighted sampling without replacement
        items.append(np.argpartition(-keys, count - 1)[:count])
        users.append(np.full(count, u))
    return np.concatenate(users), np.concatenate(items), popularity


def make_movielens(
    n_users: int = 943,
    n_items: int = 1682,
    n_ratings: int = 100_000,
    n_factors: int = 6,
    noise: float = 0.82,
    interaction: float = 1.6,
    min_per_user: int = 20,
    seed: int = 0,
) -> MovieLens:
    """Latent-factor ratings shaped like MovieLens-100k, where user/item metadata drive the factors.

    Each user's bias and taste vector is a linear function of their age, gender and occupation plus an
    individual part; each item's bias and factors come from its genres and year plus an individual part.
    Ratings are `round(3.15 + b_u + b_i + u·v + noise)` clipped to 1..5, so (like the real data) about half
    the variance is explainable, and metadata alone explains part of it: cold start is learnable.
    """
    rng = np.random.default_rng(seed)
    users, items = _generate_users(rng, n_users), _generate_items(rng, n_items)
    fu, fi = user_features(users), item_features(items)
    user_bias = fu @ rng.normal(0, 0.12, fu.shape[1]) + rng.normal(0, 0.3, n_users)
    # metadata and individual parts of the tastes have similar variance, so metadata predicts about half
    user_taste = fu @ rng.normal(0, 0.2, (fu.shape[1], n_factors)) + rng.normal(0, 0.4, (n_users, n_factors))
    item_traits = fi @ rng.normal(0, 0.4, (fi.shape[1], n_factors)) + rng.normal(
        0, 0.65, (n_items, n_factors)
    )
    user_taste *= interaction / np.sqrt(n_factors)
    u_idx, i_idx, popularity = _sample_pairs(rng, n_users, n_items, n_ratings, min_per_user)
    quality = fi @ rng.normal(0, 0.2, fi.shape[1]) + rng.normal(0, 0.3, n_items)
    item_bias = quality + 0.25 * (np.log(popularity) - np.log(popularity).mean()) / np.log(popularity).std()
    signal = (
        3.15 + user_bias[u_idx] + item_bias[i_idx] + np.sum(user_taste[u_idx] * item_traits[i_idx], axis=1)
    )
    stars = np.clip(np.round(signal + rng.normal(0, noise, len(signal))), 1, 5).astype(int)
    timestamps = rng.integers(874_724_710, 893_286_638, len(stars))  # the ml-100k collection period
    ratings = pd.DataFrame({"user": u_idx + 1, "item": i_idx + 1, "rating": stars, "timestamp": timestamps})
    ratings = ratings.iloc[rng.permutation(len(ratings))].reset_index(drop=True)
    return MovieLens(ratings, items, users, list(ML100K_GENRES))
