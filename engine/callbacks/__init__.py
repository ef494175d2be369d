"""Callbacks for engine.Learner. Lazy (PEP 562) like `engine`, so importing the package costs nothing."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "EVENTS": "engine.callbacks.core",
    "Callback": "engine.callbacks.core",
    "CancelBatchException": "engine.callbacks.core",
    "CancelTrainException": "engine.callbacks.core",
    "CancelValidException": "engine.callbacks.core",
    "CancelEpochException": "engine.callbacks.core",
    "CancelFitException": "engine.callbacks.core",
    "Recorder": "engine.callbacks.recorder",
    "ParamScheduler": "engine.callbacks.schedule",
    "OneCycle": "engine.callbacks.schedule",
    "LRFinder": "engine.callbacks.lr_finder",
    "LRFindResult": "engine.callbacks.lr_finder",
    "EventStream": "engine.callbacks.progress",
    "ProgressPrinter": "engine.callbacks.progress",
    "DeviceCallback": "engine.callbacks.device",
    "MixedPrecision": "engine.callbacks.mixed_precision",
    "resolve_precision": "engine.callbacks.mixed_precision",
    "NaNGuard": "engine.callbacks.guards",
    "TrainingDiverged": "engine.callbacks.guards",
    "CancelOnToken": "engine.callbacks.guards",
    "GradientClip": "engine.callbacks.guards",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'engine.callbacks' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
