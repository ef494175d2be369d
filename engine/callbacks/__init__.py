"""Callbacks for engine.Learner. Lazy (PEP 562) like `engine`, so importing the package costs nothing."""

from __future__ import annotations

from engine._lazy import lazy_exports

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
    "DistributedTrainer": "engine.callbacks.distributed",
    "OneThreadForSmallSteps": "engine.callbacks.threads",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
