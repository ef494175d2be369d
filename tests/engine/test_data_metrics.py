"""Loaders and metrics (accumulated over batches, weighted by batch size)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from engine import DataLoaders, Learner, TensorLoader, accuracy, error_rate, exp_rmspe, mse, perplexity, rmse
from engine.metrics import Metric, as_metric


def test_tensor_loader_batches() -> None:
    x, y = torch.arange(10).float(), torch.arange(10)
    dl = TensorLoader(x, y, batch_size=4)
    batches = list(dl)
    assert len(dl) == 3 and [len(b[0]) for b in batches] == [4, 4, 2]
    assert torch.equal(torch.cat([b[1] for b in batches]), y)
    assert len(TensorLoader(x, y, batch_size=4, drop_last=True)) == 2
    shuffled = TensorLoader(x, y, batch_size=3, shuffle=True, generator=torch.Generator().manual_seed(0))
    rows = torch.cat([b[1] for b in shuffled])
    assert sorted(rows.tolist()) == list(range(10)) and not torch.equal(rows, y)
    assert all(torch.equal(bx.long(), by) for bx, by in shuffled)  # x and y stay aligned
    with pytest.raises(ValueError, match="same length"):
        TensorLoader(x, y[:5])
    with pytest.raises(ValueError, match="at least one tensor"):
        TensorLoader()


def test_dataloaders_from_datasets_and_bad_loaders() -> None:
    ds = torch.utils.data.TensorDataset(torch.randn(20, 2), torch.randn(20, 1))
    dls = DataLoaders.from_datasets(ds, ds, bs=8)
    learn = Learner(nn.Linear(2, 1), dls, F.mse_loss, device="cpu")
    learn.fit(1)  # torch DataLoader yields lists; the learner makes them tuples
    assert len(learn.recorder.losses) == 3
    assert dls[0] is dls.train and dls[1] is dls.valid
    with pytest.raises(TypeError, match="__len__"):
        DataLoaders(iter([]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_accuracy_over_a_vocabulary_agrees_with_argmax_ties_included(dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    pred = (torch.randn(3, 50, 300) * 3).to(dtype)  # 300 classes: the path without argmax
    pred[0, :, 7] = pred[0, :, 40] = pred[0].amax(-1) + 1  # rows tied at their maximum: argmax says 7
    targ = torch.randint(0, 300, (3, 50))
    targ[1] = pred[1].argmax(-1)  # hits too, not only misses
    targ[0, :25], targ[0, 25:] = 7, 40
    expected = (pred.argmax(-1) == targ).float().mean()
    assert 0.4 < expected.item() < 0.6  # the tied row counts half, the second row all, the third ~none
    assert accuracy(pred, targ).item() == pytest.approx(expected.item())
    targ[2, 0] = -100  # an ignored position, as cross-entropy's ignore_index: a miss, not an error
    assert accuracy(pred, targ).item() == pytest.approx((pred.argmax(-1) == targ).float().mean().item())


def test_metric_functions() -> None:
    pred = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.4, 0.6]])
    targ = torch.tensor([0, 1, 1, 1])
    assert accuracy(pred, targ).item() == pytest.approx(0.75)
    assert error_rate(pred, targ).item() == pytest.approx(0.25)
    assert mse(torch.tensor([[1.0], [3.0]]), torch.tensor([2.0, 3.0])).item() == pytest.approx(0.5)


def classify(metrics, n: int = 5, bs: int = 2) -> tuple[Learner, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    x, y = torch.randn(n, 3), torch.tensor([0, 1, 1, 0, 1])[:n]
    dls = DataLoaders.from_tensors((x, y), (x, y), bs=bs)
    return Learner(nn.Linear(3, 2), dls, F.cross_entropy, metrics=metrics, device="cpu"), x, y


def test_metrics_are_weighted_by_batch_size() -> None:
    learn, x, y = classify([accuracy, error_rate, perplexity])  # batches of 2, 2, 1
    out = learn.validate()
    pred = learn.model(x).detach()
    assert out["accuracy"] == pytest.approx(accuracy(pred, y).item())
    assert out["error_rate"] == pytest.approx(1 - out["accuracy"])
    assert out["valid_loss"] == pytest.approx(F.cross_entropy(pred, y).item(), rel=1e-6)
    assert out["perplexity"] == pytest.approx(math.exp(out["valid_loss"]), rel=1e-6)


def test_regression_metrics_over_the_whole_set() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(7, 2), torch.rand(7, 1) + 1
    dls = DataLoaders.from_tensors((x, y), (x, y), bs=3)
    learn = Learner(nn.Linear(2, 1), dls, F.mse_loss, metrics=[mse, rmse, exp_rmspe], device="cpu")
    out = learn.validate()
    pred = learn.model(x).detach()
    assert out["mse"] == pytest.approx(F.mse_loss(pred, y).item(), rel=1e-5)
    assert out["rmse"] == pytest.approx(math.sqrt(out["mse"]), rel=1e-6)
    expected = torch.sqrt((((y.exp() - pred.exp()) / y.exp()) ** 2).mean()).item()
    assert out["exp_rmspe"] == pytest.approx(expected, rel=1e-5)


def test_custom_metrics() -> None:
    def top_logit(pred, targ):
        return pred.max(dim=-1).values.mean()

    assert as_metric(top_logit).name == "top_logit"
    loss_x2 = Metric("loss_x2", lambda pred, targ, loss: loss * 2)
    learn, _, _ = classify([top_logit, loss_x2])
    out = learn.validate()
    assert set(out) == {"valid_loss", "top_logit", "loss_x2"}
    assert out["loss_x2"] == pytest.approx(2 * out["valid_loss"], rel=1e-6)
    assert learn.recorder.columns == ["epoch", "train_loss", "valid_loss", "top_logit", "loss_x2", "time"]
    with pytest.raises(TypeError, match="a metric must be"):
        as_metric(3)
