"""Mixed precision: autocast the forward pass to bf16 or fp16; the loss and the optimizer stay fp32.

`resolve_precision(mode, device)` decides the dtype:
- None / "fp32": no autocast;
- "auto": CUDA -> bf16 if the GPU supports it, else fp16 (with a GradScaler); CPU -> bf16 only if the CPU has
  native bf16 (AVX512-BF16 or AMX), else fp32; MPS -> fp32;
- "bf16": CUDA (error if unsupported), CPU (falls back to fp32 with a warning when not native), MPS;
- "fp16": CUDA (with a GradScaler) or MPS; on CPU it falls back to fp32 with a warning.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor

from engine.callbacks.core import Callback

MODES = (None, "fp32", "auto", "bf16", "fp16")


def cpu_supports_bf16() -> bool:
    """True when the CPU computes bf16 natively (else bf16 autocast is slower than fp32)."""
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    native = any(bool(getattr(cpu, name, lambda: False)()) for name in checks)
    return native and torch.backends.mkldnn.is_available()


def resolve_precision(mode: str | None, device: torch.device) -> torch.dtype | None:
    if mode not in MODES:
        raise ValueError(f"mixed_precision must be one of {MODES}, got {mode!r}")
    if mode in (None, "fp32"):
        return None
    kind = device.type
    if kind == "cuda":
        bf16_ok = torch.cuda.is_bf16_supported()
        if mode == "auto":
            return torch.bfloat16 if bf16_ok else torch.float16
        if mode == "bf16" and not bf16_ok:
            raise RuntimeError(
                "mixed_precision='bf16' but this GPU does not support bf16; use 'fp16' or 'auto'"
            )
        return torch.bfloat16 if mode == "bf16" else torch.float16
    if kind == "cpu":
        if mode == "auto":
            return torch.bfloat16 if cpu_supports_bf16() else None
        if mode == "bf16" and cpu_supports_bf16():
            return torch.bfloat16
        warnings.warn(f"mixed_precision={mode!r} is not native on this CPU: training in fp32", stacklevel=3)
        return None
    if kind == "mps":
        return None if mode == "auto" else (torch.bfloat16 if mode == "bf16" else torch.float16)
    return None


def _to_float32(x: Any) -> Any:
    if isinstance(x, Tensor):
        return x.float() if x.is_floating_point() and x.dtype != torch.float32 else x
    if isinstance(x, tuple | list):
        return type(x)(_to_float32(v) for v in x)
    return x


class MixedPrecision(Callback):
    """Autocast from before_batch to after_pred; the prediction is cast back to fp32 for the loss."""

    order = -50

    def __init__(self, mode: str | None = "auto") -> None:
        if mode not in MODES:
            raise ValueError(f"mixed_precision must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.dtype: torch.dtype | None = None
        self._autocast: torch.autocast | None = None

    def before_fit(self) -> None:
        self._setup()

    def before_validate(self) -> None:
        if not self.learn.in_fit:  # standalone validate/get_preds
            self._setup()

    def _setup(self) -> None:
        device = self.learn.device
        self.dtype = resolve_precision(self.mode, device)
        if self.dtype == torch.float16 and device.type == "cuda" and self.learn.in_fit:
            self.learn.grad_scaler = torch.amp.GradScaler("cuda")

    def before_batch(self) -> None:
        self._leave()  # a CancelBatchException raised inside the forward pass skips after_pred
        if self.dtype is None:
            return
        self._autocast = torch.autocast(self.learn.device.type, dtype=self.dtype)
        self._autocast.__enter__()

    def _leave(self) -> None:
        if self._autocast is not None:
            self._autocast.__exit__(None, None, None)
            self._autocast = None

    def after_pred(self) -> None:
        if self._autocast is not None:
            self._leave()
            self.learn.pred = _to_float32(self.learn.pred)

    def after_fit(self) -> None:
        self._leave()
        self.learn.grad_scaler = None
