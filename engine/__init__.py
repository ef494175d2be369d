"""engine: a small, fast, plain-PyTorch training library speaking the fast.ai lesson's vocabulary.

The package is lazy (PEP 562): ``import engine`` or ``import engine.datasets.catalog`` does not import torch.
Public names resolve to their submodule on first attribute access, e.g. ``engine.Learner``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "Learner": "engine.learner",
    "DataLoaders": "engine.data",
    "TensorLoader": "engine.data",
    "Callback": "engine.callbacks.core",
    "CancelBatchException": "engine.callbacks.core",
    "CancelEpochException": "engine.callbacks.core",
    "CancelFitException": "engine.callbacks.core",
    "TrainingDiverged": "engine.callbacks.guards",
    "CancelToken": "engine.utils",
    "EventStream": "engine.callbacks.progress",
    "ProgressPrinter": "engine.callbacks.progress",
    "set_seed": "engine.utils",
    "pick_device": "engine.utils",
    "accuracy": "engine.metrics",
    "error_rate": "engine.metrics",
    "perplexity": "engine.metrics",
    "mse": "engine.metrics",
    "rmse": "engine.metrics",
    "exp_rmspe": "engine.metrics",
    "LRFindResult": "engine.callbacks.lr_finder",
    "adamw": "engine.optim",
    "sgd": "engine.optim",
    # Task learners, written in their own subpackages.
    "language_model_learner": "engine.text",
    "text_classifier_learner": "engine.text",
    "tabular_learner": "engine.tabular",
    "collab_learner": "engine.collab",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
