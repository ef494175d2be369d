"""Tabular models (lesson 4): procs fitted on training rows, TabularModel, tabular_learner.

from engine.tabular import tabular_data, tabular_learner, FillMissing, Categorify, Normalize
data = tabular_data(df, cat_names=[...], cont_names=[...], y_name="salary",
                    procs=[FillMissing, Categorify, Normalize], valid_idx=range(800, 1000))
learn = tabular_learner(data, layers=[200, 100], metrics=accuracy)
learn.fit(1, 1e-2)
label, index, probs = learn.predict(df.iloc[0])
"""

from engine.tabular.data import (
    TabularData,
    random_split,
    split_by_date,
    split_by_idx,
    tabular_data,
)
from engine.tabular.learner import (
    TabularLearner,
    TabularPredictor,
    get_emb_szs,
    load_tabular,
    tabular_learner,
)
from engine.tabular.model import TabularModel, emb_sz_rule, sigmoid_range
from engine.tabular.procs import (
    NA_CATEGORY,
    Categorify,
    FillMissing,
    Normalize,
    TabularProc,
    TabularProcessor,
)

__all__ = [
    "NA_CATEGORY",
    "Categorify",
    "FillMissing",
    "Normalize",
    "TabularData",
    "TabularLearner",
    "TabularModel",
    "TabularPredictor",
    "TabularProc",
    "TabularProcessor",
    "emb_sz_rule",
    "get_emb_szs",
    "load_tabular",
    "random_split",
    "sigmoid_range",
    "split_by_date",
    "split_by_idx",
    "tabular_data",
    "tabular_learner",
]
