"""engine: a small, fast, plain-PyTorch training library speaking the fast.ai lesson's vocabulary.

The package is lazy (PEP 562): ``import engine`` or ``import engine.datasets.catalog`` does not import torch.
Public names resolve to their submodule on first attribute access, e.g. ``engine.Learner``.
"""

from __future__ import annotations

from engine._lazy import lazy_exports

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

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
