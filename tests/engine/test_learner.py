"""Learner core: convergence, the event order, cancel, NaN guard, persistence, seeds, devices."""

from __future__ import annotations

import pickle
import re
import threading

import pytest
import torch
from torch import nn

from engine import (
    CancelBatchException,
    CancelToken,
    EventStream,
    Learner,
    TrainingDiverged,
    pick_device,
    set_seed,
)
from engine.callbacks import (
    Callback,
    CancelEpochException,
    CancelFitException,
    CancelTrainException,
    CancelValidException,
    ProgressPrinter,
)
from engine.events import BatchEnded, EpochEnded, FitEnded, FitStarted
from tests.engine._synthetic import EventLog, classification_learner, linear_learner


def test_fit_converges_on_a_line() -> None:
    learn = linear_learner(lr=0.1)
    learn.fit(8)
    assert learn.model.weight.item() == pytest.approx(3.0, abs=0.05)
    assert learn.model.bias.item() == pytest.approx(2.0, abs=0.05)
    assert learn.validate()["valid_loss"] < 1e-2


def test_fit_one_cycle_converges_on_a_line() -> None:
    learn = linear_learner()
    learn.fit_one_cycle(8, lr_max=0.3)
    assert learn.model.weight.item() == pytest.approx(3.0, abs=0.05)
    assert learn.model.bias.item() == pytest.approx(2.0, abs=0.05)
    rows = learn.recorder.rows
    assert [r["epoch"] for r in rows] == list(range(8))
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]


def test_event_order_for_one_epoch() -> None:
    log = EventLog()
    learn = linear_learner(n=80, bs=32, cbs=[log])  # 64 train rows -> 2 batches, 16 valid rows -> 1 batch
    learn.fit(1)
    train_batch = [
        "before_batch",
        "after_pred",
        "after_loss",
        "before_backward",
        "after_backward",
        "after_step",
        "after_batch",
    ]
    valid_batch = ["before_batch", "after_pred", "after_loss", "after_batch"]
    expected = [
        "before_fit",
        "before_epoch",
        "before_train",
        *train_batch,
        *train_batch,
        "after_train",
        "before_validate",
        *valid_batch,
        "after_validate",
        "after_epoch",
        "after_fit",
    ]
    assert log.log == expected


def test_callbacks_can_replace_pred_and_add_to_the_loss() -> None:
    class Tweak(Callback):
        def after_pred(self) -> None:
            self.learn.pred = self.learn.pred * 0  # the loss must see the replaced prediction

        def after_loss(self) -> None:
            self.seen = self.learn.loss.item()
            self.learn.loss = self.learn.loss + 100.0  # a regularisation term

    tweak = Tweak()
    learn = linear_learner(n=80, cbs=[tweak])
    learn.fit(1)
    y = learn.dls.train.tensors[1]
    assert tweak.seen == pytest.approx((y[-32:] ** 2).mean().item(), rel=0.5)
    assert min(learn.recorder.losses) > 100


def test_cancel_batch_skips_the_step() -> None:
    class SkipAll(Callback):
        def before_backward(self) -> None:
            raise CancelBatchException()

    learn = linear_learner(cbs=[SkipAll()])
    before = [p.detach().clone() for p in learn.model.parameters()]
    learn.fit(1)
    assert all(torch.equal(a, b) for a, b in zip(before, learn.model.parameters()))


def test_cancel_token_from_another_thread_stops_at_the_next_batch() -> None:
    token = CancelToken()
    cancelled_at: list[int] = []

    class CancelFromThreadAtStep5(Callback):
        def after_batch(self) -> None:
            if self.learn.training and self.learn.train_iter == 5:
                thread = threading.Thread(target=token.cancel)
                thread.start()
                thread.join()
                cancelled_at.append(self.learn.train_iter)

    events: list[object] = []
    learn = linear_learner(cbs=[CancelFromThreadAtStep5(), EventStream(events.append)])
    learn.fit(100, cbs=[token])  # returns normally
    assert cancelled_at == [5]
    assert learn.cancelled
    assert len(learn.recorder.losses) == 6  # steps 0..5 ran, step 6 never started
    assert isinstance(events[-1], FitEnded) and events[-1].cancelled and events[-1].error is None
    assert learn.cbs and not any(type(cb).__name__ == "CancelOnToken" for cb in learn.cbs)  # fit cbs removed


def test_nan_loss_raises_training_diverged_without_stepping() -> None:
    class PoisonStep3(Callback):
        def after_loss(self) -> None:
            if self.learn.training and self.learn.train_iter == 3:
                self.learn.loss = self.learn.loss * float("nan")

        def after_step(self) -> None:
            self.params_after_last_step = [p.detach().clone() for p in self.learn.model.parameters()]

    poison = PoisonStep3()
    learn = linear_learner(lr=0.05, cbs=[poison])
    with pytest.raises(TrainingDiverged, match=r"step 3 .*lr=0\.05") as info:
        learn.fit(2)
    assert info.value.step == 3 and info.value.lr == pytest.approx(0.05)
    assert all(torch.equal(a, b) for a, b in zip(poison.params_after_last_step, learn.model.parameters()))
    assert len(learn.recorder.losses) == 3
    assert all(p.grad is None for p in learn.model.parameters())
    learn.remove_cb(poison)
    learn.fit(1)  # still usable
    assert len(learn.recorder.losses) == len(learn.dls.train)


def test_huge_lr_diverges_with_a_clear_message() -> None:
    learn = linear_learner(lr=1e6, opt_func=__import__("engine.optim", fromlist=["sgd"]).sgd)
    with pytest.raises(TrainingDiverged, match="training diverged at step"):
        learn.fit(5)


def test_event_stream_emits_plain_records() -> None:
    events: list[object] = []
    learn = linear_learner(n=80, metrics=[], cbs=[EventStream(events.append, every=1)])
    learn.fit(2)
    kinds = [type(e) for e in events]
    epoch = [BatchEnded, BatchEnded, EpochEnded]
    assert kinds == [FitStarted, *epoch, *epoch, FitEnded]
    batches = [e for e in events if isinstance(e, BatchEnded)]
    assert [b.step for b in batches] == [0, 1, 2, 3]
    assert [b.loss for b in batches] == learn.recorder.losses
    assert events[0].columns == ("epoch", "train_loss", "valid_loss", "time")
    assert events[-2].row == learn.recorder.rows[-1]


def test_progress_printer_prints_the_epoch_table(capsys: pytest.CaptureFixture[str]) -> None:
    learn = classification_learner(metrics=[__import__("engine").accuracy])
    learn.fit(2, lr=1e-2, cbs=[ProgressPrinter()])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["epoch", "train_loss", "valid_loss", "accuracy", "time"]
    assert [line.split()[0] for line in lines[1:]] == ["0", "1"]
    assert re.fullmatch(r"\d\d:\d\d", lines[1].split()[-1])


def test_get_preds_matches_the_model() -> None:
    learn = linear_learner()
    learn.fit(1)
    preds, targets = learn.get_preds()
    x, y = learn.dls.valid.tensors
    assert torch.allclose(preds, learn.model(x).detach())
    assert torch.equal(targets, y)


def test_save_load_round_trip(tmp_path) -> None:
    learn = linear_learner(path=tmp_path)
    learn.fit(1)
    file = learn.save("line")
    assert file == tmp_path / "models" / "line.pth"
    saved = {k: v.clone() for k, v in learn.model.state_dict().items()}
    saved_step = learn.opt.state_dict()["state"][0]["step"].clone()
    learn.fit(1)
    learn.load("line")
    assert all(torch.equal(saved[k], v) for k, v in learn.model.state_dict().items())
    assert torch.equal(learn.opt.state_dict()["state"][0]["step"], saved_step)
    with pytest.raises(FileNotFoundError, match="no saved model 'nope'"):
        learn.load("nope")


def test_load_refuses_pickled_code(tmp_path) -> None:
    learn = linear_learner(path=tmp_path)
    (tmp_path / "models").mkdir()
    torch.save(
        {"model": learn.model.state_dict(), "opt": None, "evil": ProgressPrinter()},
        tmp_path / "models" / "x.pth",
    )
    with pytest.raises(pickle.UnpicklingError):
        learn.load("x")


def test_set_seed_makes_cpu_runs_repeat_exactly() -> None:
    def run() -> list[torch.Tensor]:
        learn = classification_learner()  # calls set_seed(0): init, shuffling, batchnorm all repeat
        learn.fit_one_cycle(2, lr_max=1e-2)
        return [p.detach().clone() for p in learn.model.parameters()] + [torch.tensor(learn.recorder.losses)]

    first, second = run(), run()
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    set_seed(1)
    third = classification_learner(), None
    assert third[0] is not None
    with pytest.raises(ValueError):
        set_seed(-1)


def test_devices() -> None:
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type in {"cuda", "mps", "cpu"}
    with pytest.raises(ValueError, match="unknown device"):
        pick_device("tpu-please")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            pick_device("cuda")
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            Learner(nn.Linear(1, 1), None, nn.functional.mse_loss, device="cuda:0")  # type: ignore[arg-type]


def test_learner_validates_its_inputs() -> None:
    with pytest.raises(ValueError, match="lr"):
        linear_learner(lr=-1.0)
    with pytest.raises(TypeError, match="subclass engine.callbacks.Callback"):
        linear_learner(cbs=[object()])
    with pytest.raises(ValueError, match="two groups"):
        model = nn.Linear(1, 1)
        linear_learner().__class__(
            model, None, nn.functional.mse_loss, splitter=lambda m: [[m.weight], [m.weight, m.bias]]
        )
    with pytest.raises(ValueError, match="leaves trainable parameters out"):
        model = nn.Linear(1, 1)
        Learner(model, None, nn.functional.mse_loss, splitter=lambda m: [[m.weight]])
    with pytest.raises(NotImplementedError, match="task learner"):
        linear_learner().predict(1.0)


def test_gradient_clip_bounds_the_gradient_norm() -> None:
    from engine.callbacks import GradientClip

    norms: list[float] = []

    class MeasureNorm(Callback):
        order = 50  # after GradientClip (0)

        def after_backward(self) -> None:
            grads = [p.grad for p in self.learn.model.parameters()]
            norms.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())

    learn = linear_learner(cbs=[GradientClip(0.01), MeasureNorm()])
    learn.fit(1)
    assert norms and max(norms) <= 0.01 + 1e-6
    with pytest.raises(ValueError, match="max_norm"):
        GradientClip(0)


def test_validate_needs_a_loader_and_fit_zero_epochs_is_a_no_op() -> None:
    learn = linear_learner()
    learn.dls.valid = None
    with pytest.raises(ValueError, match="no valid loader"):
        learn.validate()
    before = learn.model.weight.detach().clone()
    learn.fit(0)
    assert torch.equal(before, learn.model.weight) and learn.recorder.rows == []
    with pytest.raises(ValueError, match="n_epoch"):
        learn.fit(-1)
    assert set(learn.validate(learn.dls.train)) == {"valid_loss"}


@pytest.mark.parametrize(
    ("level", "exception", "raised_in"),
    [
        ("batch", CancelBatchException, "before_backward"),
        ("train", CancelTrainException, "after_step"),
        ("validate", CancelValidException, "before_validate"),
        ("epoch", CancelEpochException, "after_validate"),
        ("fit", CancelFitException, "before_epoch"),
    ],
)
def test_a_cancelled_level_fires_after_cancel_in_place_of_after(level, exception, raised_in) -> None:
    """One rule at every level: after_cancel_<level> instead of after_<level>; fit still reports its end."""

    class CancelOnce(Callback):
        def __init__(self) -> None:
            self.fired: list[str] = []
            self.done = False

        def __getattr__(self, name: str):
            if name.startswith(("before_", "after_")):
                return lambda: self._event(name)
            raise AttributeError(name)

        def _event(self, name: str) -> None:
            self.fired.append(name)
            if name == raised_in and not self.done:
                self.done = True
                raise exception()

    probe = CancelOnce()
    learn = linear_learner(n=64, cbs=[probe])
    learn.fit(1)
    fired = probe.fired
    assert fired.count(f"after_cancel_{level}") == 1
    cancelled_at = fired.index(f"after_cancel_{level}")
    # after_<level> of the cancelled level does not follow before the level starts again (or fit ends)
    rest = fired[cancelled_at + 1 :]
    next_start = rest.index(f"before_{level}") if f"before_{level}" in rest else len(rest)
    assert f"after_{level}" not in rest[:next_start] or level == "fit"
    assert fired[-1] == "after_fit"  # fit's ending is always reported
    assert learn.cancelled == (level == "fit")


def test_a_recorder_can_close_its_last_epoch_row_on_cancel() -> None:
    class ClosingRecorder(Callback):
        def __init__(self) -> None:
            self.rows: list[str] = []

        def after_epoch(self) -> None:
            self.rows.append("complete")

        def after_cancel_epoch(self) -> None:
            self.rows.append("cancelled")

    class CancelSecondEpoch(Callback):
        def before_train(self) -> None:
            if self.learn.epoch == 1:
                raise CancelEpochException()

    recorder = ClosingRecorder()
    linear_learner(cbs=[recorder, CancelSecondEpoch()]).fit(3)
    assert recorder.rows == ["complete", "cancelled", "complete"]
