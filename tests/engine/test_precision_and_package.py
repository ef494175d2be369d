"""Mixed precision choices, and the lazy package import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.callbacks import Callback
from engine.callbacks.mixed_precision import cpu_supports_bf16, resolve_precision
from tests.engine._synthetic import classification_learner

ROOT = Path(__file__).resolve().parents[2]
CPU = torch.device("cpu")


def test_resolve_precision_on_cpu() -> None:
    assert resolve_precision(None, CPU) is None
    assert resolve_precision("fp32", CPU) is None
    assert resolve_precision("auto", CPU) == (torch.bfloat16 if cpu_supports_bf16() else None)
    with pytest.warns(UserWarning, match="not native on this CPU"):
        assert resolve_precision("fp16", CPU) is None
    with pytest.raises(ValueError, match="mixed_precision must be one of"):
        resolve_precision("int8", CPU)


@pytest.mark.skipif(not cpu_supports_bf16(), reason="this CPU has no native bf16")
def test_bf16_autocast_on_cpu_keeps_loss_and_weights_fp32() -> None:
    class Inspect(Callback):
        order = 0  # after MixedPrecision (-50) has closed autocast

        def after_pred(self) -> None:
            self.pred_dtype = self.learn.pred.dtype
            self.autocast_on = torch.is_autocast_enabled("cpu")

        def after_loss(self) -> None:
            self.loss_dtype = self.learn.loss.dtype

    inspect = Inspect()
    learn = classification_learner(mixed_precision="bf16", cbs=[inspect])
    learn.fit(1, lr=1e-2)
    assert inspect.pred_dtype == torch.float32 and inspect.loss_dtype == torch.float32
    assert not inspect.autocast_on
    assert all(p.dtype == torch.float32 for p in learn.model.parameters())
    assert torch.isfinite(torch.tensor(learn.recorder.losses)).all()


def test_importing_engine_does_not_import_torch() -> None:
    code = (
        "import sys, engine, engine.callbacks\n"
        "names = engine.__all__\n"
        "assert 'Learner' in names and 'collab_learner' in names\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_public_names_resolve() -> None:
    import engine

    core = [n for n in engine.__all__ if not n.endswith("_learner")]
    assert all(getattr(engine, n) is not None for n in core)
    with pytest.raises(AttributeError):
        engine.does_not_exist  # noqa: B018
