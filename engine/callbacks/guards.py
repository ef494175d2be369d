"""Safety callbacks: stop on a NaN/inf loss, stop on a cancel token, clip gradients."""

from __future__ import annotations

import math

from torch import nn

from engine.callbacks.core import Callback, CancelFitException
from engine.distributed import agreed_stop
from engine.utils import CancelToken


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite. Raised before backward, so the bad batch never updates the
    model; the model, optimizer and recorder keep the state of the last good step."""

    def __init__(self, step: int, lr: float, loss: float, epoch: int = 0) -> None:
        self.step, self.lr, self.loss, self.epoch = step, lr, loss, epoch
        super().__init__(
            f"training diverged at step {step} (epoch {epoch}, lr={lr:.3g}): the loss is {loss}; "
            "try a lower learning rate (lr_find suggests one)"
        )


class NaNGuard(Callback):
    """Attached by default: checks every training loss before backward (one float conversion per batch)."""

    order = 100  # after any after_loss callback has added its terms, right before backward

    def before_backward(self) -> None:
        learn = self.learn
        value = learn.loss_value
        if not math.isfinite(value):
            lr = self.opt.param_groups[-1]["lr"]
            raise TrainingDiverged(step=learn.train_iter, lr=lr, loss=value, epoch=learn.epoch)


class CancelOnToken(Callback):
    """Stops the fit at the next batch (train or valid) once `token.cancel()` is called from any thread.
    The fit then returns normally with `learn.cancelled == True` (after_fit still runs). In a distributed
    run every rank stops at the same training batch once any rank's token is cancelled."""

    order = -200

    def __init__(self, token: CancelToken) -> None:
        self.token = token

    def before_batch(self) -> None:
        if agreed_stop(self.learn.training, self.token.cancelled):
            raise CancelFitException()


class GradientClip(Callback):
    """Clip the global gradient norm to `max_norm` after backward (unscaling first under fp16)."""

    order = 0

    def __init__(self, max_norm: float = 1.0) -> None:
        if max_norm <= 0:
            raise ValueError(f"max_norm must be positive, got {max_norm}")
        self.max_norm = max_norm

    def after_backward(self) -> None:
        learn = self.learn
        if learn.grad_scaler is not None:
            learn.grad_scaler.unscale_(self.opt)  # type: ignore[arg-type]  # GradScaler duck-types it
        params = [p for group in self.opt.param_groups for p in group["params"] if p.grad is not None]
        nn.utils.clip_grad_norm_(params, self.max_norm)
