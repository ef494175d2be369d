"""The fast embedding lookup (engine.tabular.model.lookup_rows / Embedding) and collab's squared_norm give
nn.Embedding's and pow(2).sum()'s results and gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from engine.collab.learner import squared_norm
from engine.collab.models import EmbeddingDotBias
from engine.tabular.model import Embedding, TabularModel, lookup_rows


def _grad(emb: nn.Embedding) -> torch.Tensor:
    assert emb.weight.grad is not None
    return emb.weight.grad


def _pair(n: int, width: int, seed: int, **kwargs: object) -> tuple[Embedding, nn.Embedding]:
    torch.manual_seed(seed)
    fast = Embedding(n, width, **kwargs)  # type: ignore[arg-type]
    plain = nn.Embedding(n, width, **kwargs)  # type: ignore[arg-type]
    plain.load_state_dict(fast.state_dict())
    return fast, plain


def test_lookup_rows_matches_nn_embedding_values_and_gradients() -> None:
    (fast_a, plain_a), (fast_b, plain_b) = _pair(7, 3, 0), _pair(5, 1, 1)
    ids_a = torch.tensor([[0, 6, 6], [2, 0, 6]])  # repeated rows, 2-D indices
    ids_b = torch.tensor([4, 4, 1, 0, 4, 3])
    target = torch.randn(2, 3, 3)
    rows_a, rows_b = lookup_rows([fast_a, fast_b], [ids_a, ids_b])
    ((rows_a - target) ** 3).sum().backward()
    (rows_b * torch.arange(6.0).unsqueeze(1)).sum().backward()
    ((plain_a(ids_a) - target) ** 3).sum().backward()
    (plain_b(ids_b) * torch.arange(6.0).unsqueeze(1)).sum().backward()
    assert torch.equal(rows_a, plain_a(ids_a)) and torch.equal(rows_b, plain_b(ids_b))
    assert torch.allclose(_grad(fast_a), _grad(plain_a), atol=1e-6)
    assert torch.allclose(_grad(fast_b), _grad(plain_b), atol=1e-6)


def test_a_table_of_width_zero_works() -> None:
    """collab's biases-only model has factor tables of width 0."""
    (empty, _), (bias, _) = _pair(4, 0, 0), _pair(4, 1, 1)
    rows, biases = lookup_rows([empty, bias], [torch.tensor([1, 2]), torch.tensor([1, 2])])
    (rows.sum() + biases.sum()).backward()
    assert rows.shape == (2, 0) and _grad(empty).shape == (4, 0)


def test_an_unused_lookup_leaves_its_table_without_a_gradient() -> None:
    """As with nn.Embedding: AdamW skips a parameter whose grad is None, but would step one whose grad is 0."""
    (used, _), (unused, _) = _pair(4, 2, 0), _pair(4, 2, 1)
    rows, _ = lookup_rows([used, unused], [torch.tensor([1, 2]), torch.tensor([3, 3])])
    rows.sum().backward()
    assert used.weight.grad is not None and unused.weight.grad is None


def test_options_that_change_the_gradient_use_nn_embedding() -> None:
    fast, plain = _pair(6, 2, 0, padding_idx=0)
    ids = torch.tensor([0, 1, 0, 5])
    fast(ids).sum().backward()
    plain(ids).sum().backward()
    assert torch.equal(_grad(fast), _grad(plain))
    assert torch.equal(_grad(fast)[0], torch.zeros(2))  # the padding row gets no gradient


def test_an_index_out_of_range_raises_like_nn_embedding() -> None:
    fast, plain = _pair(3, 2, 0)
    with pytest.raises(IndexError):
        plain(torch.tensor([3]))
    with pytest.raises(IndexError):
        fast(torch.tensor([3]))


def test_models_keep_nn_embedding_state_dicts() -> None:
    """Saved collab and tabular models load into plain nn.Embedding tables, and the other way round."""
    model = EmbeddingDotBias(5, 6, n_factors=3)
    assert all(isinstance(m, Embedding) for m in (model.u_weight, model.i_weight, model.u_bias, model.i_bias))
    plain = nn.Embedding(5, 3)
    plain.load_state_dict(model.u_weight.state_dict())
    model.u_weight.load_state_dict(nn.Embedding(5, 3).state_dict())
    tab = TabularModel([(4, 2), (3, 2)], n_cont=1, out_sz=2, layers=[4])
    assert set(tab.state_dict()) >= {"embeds.0.weight", "embeds.1.weight"}


def test_squared_norm_matches_pow_sum_and_its_gradient() -> None:
    torch.manual_seed(0)
    tensors = [torch.randn(4, 3, requires_grad=True), torch.randn(4, 1, requires_grad=True)]
    copies = [t.detach().clone().requires_grad_() for t in tensors]
    reference = torch.stack([t.pow(2).sum() for t in copies]).sum()
    assert torch.allclose(squared_norm(tensors), reference)
    (squared_norm(tensors) * 0.5).backward()
    (reference * 0.5).backward()
    for fast, plain in zip(tensors, copies):
        assert fast.grad is not None and plain.grad is not None
        assert torch.allclose(fast.grad, plain.grad)


def test_the_row_sums_run_on_one_thread_and_the_count_comes_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """On several threads torch radix-sorts index_add_'s index first, 20x slower for a collab batch."""
    import engine.tabular.model as tabular_model

    seen: list[int] = []
    summed_rows = tabular_model._summed_rows

    def recording(*args: object) -> object:
        seen.append(torch.get_num_threads())
        return summed_rows(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(tabular_model, "_summed_rows", recording)
    threads = torch.get_num_threads()
    (fast, plain) = _pair(9, 4, 0)
    ids = torch.tensor([3, 3, 8, 0])
    torch.set_num_threads(2)
    try:
        lookup_rows([fast], [ids])[0].pow(2).sum().backward()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    plain(ids).pow(2).sum().backward()
    assert seen == [1] and torch.allclose(_grad(fast), _grad(plain), atol=1e-6)


def test_one_thread_restores_the_count_when_the_block_raises() -> None:
    from engine.utils import one_thread

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with pytest.raises(ValueError), one_thread():
            assert torch.get_num_threads() == 1
            raise ValueError("inside")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
