"""Collaborative filtering (lesson 4): user/item factors, recommendations, and a cold-start model.

from engine.collab import collab_data, collab_learner
data = collab_data(ratings, valid_pct=0.1, seed=42, titles=ml.titles())
learn = collab_learner(data, n_factors=40, y_range=(0, 5.5), wd=0.1)
learn.fit_one_cycle(5, 5e-3)
learn.recommend(user, k=10); best, worst = learn.item_bias(n=15)
"""

from engine.collab.data import CollabData, IdMap, UnknownIdError, collab_data
from engine.collab.learner import (
    FAST_RECIPE,
    LESSON_RECIPE,
    CollabLearner,
    EmbeddingL2,
    ItemBiases,
    collab_learner,
    fast_recipe,
)
from engine.collab.models import EmbeddingDotBias, EmbeddingNN

__all__ = [
    "FAST_RECIPE",
    "LESSON_RECIPE",
    "CollabData",
    "CollabLearner",
    "EmbeddingDotBias",
    "EmbeddingL2",
    "EmbeddingNN",
    "IdMap",
    "ItemBiases",
    "UnknownIdError",
    "collab_data",
    "collab_learner",
    "fast_recipe",
]
