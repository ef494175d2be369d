"""The ratings the collab labs train on: generated MovieLens-shaped data, or ml-100k / ML_SAMPLE."""

from __future__ import annotations

from pathlib import Path

from engine.datasets.movielens import MovieLens, make_movielens, read_movielens


def load_movielens(
    data: Path | None, users: int, items: int, ratings: int, seed: int
) -> tuple[MovieLens, str]:
    """(data, where it came from); `data` is an ml-100k folder or a ratings CSV, of which at most `ratings`
    rows are read (so the smoke preset stays small on a big file)."""
    if data is None:
        ml = make_movielens(n_users=users, n_items=items, n_ratings=ratings, seed=seed)
        return ml, f"{ratings} generated ratings ({users} users, {items} movies, MovieLens-shaped)"
    ml = read_movielens(data, nrows=ratings)
    return ml, f"{len(ml.ratings)} ratings from {data} (at most {ratings}: the ratings parameter)"


def matrix_corner(ml: MovieLens, size: int = 8) -> tuple[list[str], list[list[str]]]:
    """The most active users against the most rated movies: the sparse matrix the model fills in."""
    ratings = ml.ratings
    top_users = ratings["user"].value_counts().index[:size]
    top_items = ratings["item"].value_counts().index[:size]
    corner = ratings[ratings.user.isin(top_users) & ratings.item.isin(top_items)]
    table = corner.pivot_table(index="user", columns="item", values="rating", aggfunc="first")
    table = table.reindex(index=top_users, columns=top_items)
    columns = ["user \\ movie", *(str(item) for item in top_items)]
    rows = [
        [str(user), *("·" if value != value else f"{value:g}" for value in table.loc[user])]
        for user in top_users
    ]
    return columns, rows
