"""DeviceCallback: the model on the learner's device, each batch moved there before the model sees it."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from engine.callbacks.core import Callback


def to_device(x: Any, device: torch.device) -> Any:
    """Move tensors (also inside tuples, lists and dicts) to `device`; other values pass through."""
    if isinstance(x, Tensor):
        return x if x.device == device else x.to(device, non_blocking=True)
    if isinstance(x, tuple | list):
        return type(x)(to_device(v, device) for v in x)
    if isinstance(x, dict):
        return {k: to_device(v, device) for k, v in x.items()}
    return x


class DeviceCallback(Callback):
    order = -100

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def before_fit(self) -> None:
        self.learn.model.to(self.device)

    def before_batch(self) -> None:
        device = self.device
        batch = self.learn.batch
        if all(isinstance(t, Tensor) and t.device == device for t in batch):
            return  # the common fast path: data already lives on the device (e.g. TensorLoader.to)
        self.learn.batch = tuple(to_device(t, device) for t in batch)
