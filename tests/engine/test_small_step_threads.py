"""OneThreadForSmallSteps: small CPU steps train on one thread; the thread count comes back however the
fit ends; big steps keep their threads; tabular, collab and cold-start learners attach it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import nn

from engine.callbacks import Callback, OneThreadForSmallSteps
from engine.callbacks.threads import SMALL_STEP_MACS, dense_weights, is_small_step
from engine.collab import collab_data, collab_learner
from engine.collab.cold_start import cold_start_data, cold_start_learner
from engine.data import DataLoaders
from engine.datasets.movielens import make_movielens
from engine.datasets.tabular import make_census
from engine.learner import Learner
from engine.tabular import Categorify, FillMissing, tabular_data, tabular_learner


class ThreadsSeen(Callback):
    """Records torch's thread count at every training batch."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def before_batch(self) -> None:
        self.seen.append(torch.get_num_threads())


class FailsAtBatch(Callback):
    def before_batch(self) -> None:
        raise RuntimeError("a callback broke")


@pytest.fixture
def two_threads() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def linear_learner(width: int, bs: int) -> Learner:
    x, y = torch.randn(8, width), torch.randn(8, 1)
    model = nn.Sequential(nn.Linear(width, width), nn.Linear(width, 1))
    return Learner(
        model, DataLoaders.from_tensors((x, y), bs=bs, shuffle=False), nn.functional.mse_loss, device="cpu"
    )


def test_dense_weights_count_the_linear_layers_multiply_adds_per_row() -> None:
    model = nn.Sequential(nn.Embedding(1000, 8), nn.Linear(8, 20), nn.ReLU(), nn.Linear(20, 3))
    assert dense_weights(model) == 8 * 20 + 20 * 3  # an embedding lookup is not a multiply-add


def test_a_step_is_small_below_the_threshold_only() -> None:
    model = nn.Linear(100, 100)  # 10k multiply-adds a row
    rows_at_threshold = SMALL_STEP_MACS // 10_000
    assert is_small_step(rows_at_threshold - 1, model)
    assert not is_small_step(rows_at_threshold, model)


def test_a_small_step_fit_trains_on_one_thread_and_gives_the_threads_back(two_threads: None) -> None:
    learn = linear_learner(width=4, bs=4)
    seen = ThreadsSeen()
    learn.fit(1, 1e-3, cbs=[OneThreadForSmallSteps(), seen])
    assert seen.seen == [1, 1] and torch.get_num_threads() == 2


def test_a_big_step_fit_keeps_its_threads(two_threads: None) -> None:
    width = 2_000  # 4M multiply-adds a row: 8 rows make 32M, 16 rows 64M
    learn = linear_learner(width, bs=16)
    seen = ThreadsSeen()
    learn.fit(1, 1e-6, cbs=[OneThreadForSmallSteps(), seen])
    assert seen.seen == [2]


def test_the_threads_come_back_when_the_fit_fails(two_threads: None) -> None:
    learn = linear_learner(width=4, bs=4)
    with pytest.raises(RuntimeError, match="a callback broke"):
        learn.fit(1, 1e-3, cbs=[OneThreadForSmallSteps(), FailsAtBatch()])
    assert torch.get_num_threads() == 2


def test_the_tabular_collab_and_cold_start_learners_train_small_steps_on_one_thread(
    two_threads: None,
) -> None:
    census = make_census(n_rows=200, seed=0)
    tabular = tabular_learner(
        tabular_data(census, ["workclass"], ["age"], "salary", procs=[FillMissing, Categorify], bs=64),
        layers=[8],
    )
    movielens = make_movielens(n_users=30, n_items=40, n_ratings=600, seed=0)
    collab = collab_learner(collab_data(movielens.ratings, bs=64), n_factors=4)
    cold = cold_start_learner(cold_start_data(movielens, new_user_pct=0.2, bs=64), n_factors=4)
    for learn in (tabular, collab, cold):
        seen = ThreadsSeen()
        learn.fit(1, 1e-3, cbs=[seen])
        assert seen.seen and set(seen.seen) == {1}, type(learn).__name__
        assert torch.get_num_threads() == 2
