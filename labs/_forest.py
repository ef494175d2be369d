"""A small random forest regressor (numpy only): the lesson's way of reading a hyperparameter search.

Lesson 4 says the 2.6 of `slice(lr/2.6**4, lr)` was found by training many models and fitting a random
forest that predicts the result from the hyperparameters. `discriminative-lr` does that in miniature: a
handful of (ratio, learning rate) trials scored on a tuning split, a forest fitted on them, and its
prediction read along the ratio axis. Bagged regression trees, each split on one feature drawn at random.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class _Node:
    value: float
    feature: int = -1
    threshold: float = 0.0
    left: _Node | None = None
    right: _Node | None = None

    def predict(self, row: np.ndarray) -> float:
        node = self
        while node.left is not None and node.right is not None:
            node = node.left if row[node.feature] <= node.threshold else node.right
        return node.value


def _grow(x: np.ndarray, y: np.ndarray, depth: int, min_leaf: int, rng: np.random.Generator) -> _Node:
    node = _Node(float(y.mean()))
    if depth == 0 or len(y) < 2 * min_leaf or np.ptp(y) == 0:
        return node
    best: tuple[float, int, float] | None = None
    for feature in rng.permutation(x.shape[1]):  # the first feature with a useful split wins
        values = np.unique(x[:, feature])
        for low, high in zip(values[:-1], values[1:]):
            threshold = (low + high) / 2
            left = x[:, feature] <= threshold
            if left.sum() < min_leaf or (~left).sum() < min_leaf:
                continue
            sse = ((y[left] - y[left].mean()) ** 2).sum() + ((y[~left] - y[~left].mean()) ** 2).sum()
            if best is None or sse < best[0]:
                best = (float(sse), int(feature), float(threshold))
        if best is not None:
            break
    if best is None:
        return node
    _, feature, threshold = best
    left = x[:, feature] <= threshold
    node.feature, node.threshold = feature, threshold
    node.left = _grow(x[left], y[left], depth - 1, min_leaf, rng)
    node.right = _grow(x[~left], y[~left], depth - 1, min_leaf, rng)
    return node


@dataclass
class RandomForest:
    trees: list[_Node]

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=float))
        return np.array([np.mean([tree.predict(row) for tree in self.trees]) for row in x])


def fit_forest(
    x: np.ndarray, y: np.ndarray, n_trees: int = 100, max_depth: int = 3, min_leaf: int = 2, seed: int = 0
) -> RandomForest:
    """Bagged regression trees on rows `x` (features in columns) and targets `y`."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    y = np.asarray(y, dtype=float)
    if len(x) != len(y) or len(y) == 0:
        raise ValueError(f"a forest needs as many targets as rows, got {len(x)} rows and {len(y)} targets")
    rng = np.random.default_rng(seed)
    trees = []
    for _ in range(n_trees):
        rows = rng.integers(0, len(y), len(y))
        trees.append(_grow(x[rows], y[rows], max_depth, min_leaf, rng))
    return RandomForest(trees)
