"""TabularModel: an embedding per categorical column, continuous columns as they are, then a small MLP.

model = TabularModel(emb_szs=[(10, 6), (17, 8)], n_cont=3, out_sz=2, layers=[200, 100])
pred = model(x_cat, x_cont)        # x_cat: int64 [bs, n_cat], x_cont: float32 [bs, n_cont]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from engine.utils import one_thread


def emb_sz_rule(n_categories: int) -> int:
    """fastai's rule of thumb for an embedding width: `min(600, round(1.6 * n ** 0.56))`."""
    return min(600, round(1.6 * n_categories**0.56))


def sigmoid_range(x: Tensor, low: float, high: float) -> Tensor:
    """Squash `x` into (low, high) with a sigmoid."""
    return torch.sigmoid(x) * (high - low) + low


class _RowLookup(torch.autograd.Function):
    """`weight[indices]` for several (weight, indices) pairs as one autograd node, whose backward adds each
    table's row gradients with one `index_add_`.

    Same gradients as nn.Embedding's, but on CPU `embedding_dense_backward` adds one row at a time: 65 us
    against 23 us for 1,024 rows of 40 (torch 2.13, one thread); and one node for the four tables of a
    collab model saves three nodes' Python overhead per step. Together the largest cost of a collab step.

    The sums run on one thread: with more, torch first radix-sorts the index, and 1,024 rows of 40 took
    575-907 us on 2 threads against 22-36 us on one (torch 2.13, this project's 2-core machine).
    """

    @staticmethod
    def forward(ctx: Any, indices: tuple[Tensor, ...], *weights: Tensor) -> tuple[Tensor, ...]:
        ctx.indices, ctx.n_rows = indices, [w.shape[0] for w in weights]
        # an unused output leaves its table's grad None, as nn.Embedding does
        ctx.set_materialize_grads(False)
        return tuple(
            w.index_select(0, i.reshape(-1)).view(*i.shape, w.shape[1]) for w, i in zip(weights, indices)
        )

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, *grads: Tensor | None) -> tuple[Tensor | None, ...]:
        with one_thread():
            return (None, *map(_summed_rows, grads, ctx.indices, ctx.n_rows))


def _summed_rows(grad: Tensor | None, index: Tensor, n_rows: int) -> Tensor | None:
    """An [n_rows, width] table holding, in each row, the sum of the gradient rows `index` points there."""
    if grad is None:
        return None
    flat = grad.reshape(index.numel(), grad.shape[-1])  # not -1: a table may have width 0
    return flat.new_zeros(n_rows, flat.shape[1]).index_add_(0, index.reshape(-1), flat)


def is_plain_cpu(emb: nn.Embedding) -> bool:
    """True where `lookup_rows` gives exactly nn.Embedding's result: no padding_idx, max_norm,
    scale_grad_by_freq or sparse gradient, and on the CPU (index_add_ is not deterministic on CUDA)."""
    plain = emb.padding_idx is None and emb.max_norm is None and not emb.scale_grad_by_freq
    return plain and not emb.sparse and emb.weight.device.type == "cpu"


def lookup_rows(embeddings: Sequence[nn.Embedding], indices: Sequence[Tensor]) -> list[Tensor]:
    """`[emb(i) for emb, i in zip(embeddings, indices)]` (module hooks aside), as one autograd node where
    every table is plain and on the CPU (see _RowLookup)."""
    if all(is_plain_cpu(e) for e in embeddings):
        return list(_RowLookup.apply(tuple(indices), *(e.weight for e in embeddings)))
    return [nn.Embedding.forward(e, i) for e, i in zip(embeddings, indices)]


class Embedding(nn.Embedding):
    """nn.Embedding (same parameters and state dict) with a faster backward on CPU (see _RowLookup)."""

    def forward(self, input: Tensor) -> Tensor:
        return lookup_rows([self], [input])[0]  # nn.Embedding's own forward where it is not plain


def small_embedding(n: int, width: int, std: float = 0.01) -> nn.Embedding:
    """Embeddings start near zero (truncated normal, std 0.01) so no category dominates the first steps."""
    emb = Embedding(n, width)
    nn.init.trunc_normal_(emb.weight, std=std, a=-2 * std, b=2 * std)
    return emb


def _dense_block(n_in: int, n_out: int, dropout: float, use_bn: bool) -> list[nn.Module]:
    """Linear -> ReLU -> BatchNorm (-> Dropout), the order of fastai's `lin_first` blocks."""
    block: list[nn.Module] = [nn.Linear(n_in, n_out, bias=not use_bn), nn.ReLU(inplace=True)]
    if use_bn:
        block.append(nn.BatchNorm1d(n_out))
    if dropout > 0:
        block.append(nn.Dropout(dropout))
    return block


class TabularModel(nn.Module):
    """Embeddings for categorical columns + batch-normed continuous columns, fed to Linear/ReLU/BN layers.

    emb_szs: one (n_categories, width) pair per categorical column (n_categories counts `#na#`).
    ps: dropout after each hidden layer (a float for all, or one per layer); embed_p: dropout on embeddings.
    y_range: (low, high) squashes a regression output into that range with a sigmoid.
    """

    def __init__(
        self,
        emb_szs: Sequence[tuple[int, int]],
        n_cont: int,
        out_sz: int,
        layers: Sequence[int] = (200, 100),
        ps: float | Sequence[float] | None = None,
        embed_p: float = 0.0,
        y_range: tuple[float, float] | None = None,
        use_bn: bool = True,
        bn_cont: bool = True,
    ) -> None:
        super().__init__()
        dropouts = self._per_layer(ps, len(layers))
        self.embeds = nn.ModuleList(small_embedding(n, width) for n, width in emb_szs)
        self.emb_drop = nn.Dropout(embed_p)
        self.bn_cont = nn.BatchNorm1d(n_cont) if bn_cont and n_cont > 0 else None
        self.n_emb, self.n_cont, self.y_range = sum(w for _, w in emb_szs), n_cont, y_range
        sizes = [self.n_emb + n_cont, *layers]
        blocks: list[nn.Module] = []
        for n_in, n_out, p in zip(sizes[:-1], sizes[1:], dropouts):
            blocks += _dense_block(n_in, n_out, p, use_bn)
        blocks.append(nn.Linear(sizes[-1], out_sz))
        self.layers = nn.Sequential(*blocks)

    @staticmethod
    def _per_layer(ps: float | Sequence[float] | None, n_layers: int) -> list[float]:
        if ps is None:
            return [0.0] * n_layers
        if isinstance(ps, (int, float)):
            return [float(ps)] * n_layers
        if len(ps) != n_layers:
            raise ValueError(f"ps has {len(ps)} dropout values but there are {n_layers} layers")
        return [float(p) for p in ps]

    def forward(self, x_cat: Tensor, x_cont: Tensor) -> Tensor:
        parts = []
        if self.embeds:
            tables = cast(list[nn.Embedding], list(self.embeds))
            embedded = lookup_rows(tables, [x_cat[:, i] for i in range(len(tables))])
            parts.append(self.emb_drop(torch.cat(embedded, dim=1)))
        if self.n_cont:
            parts.append(self.bn_cont(x_cont) if self.bn_cont is not None else x_cont)
        out = self.layers(torch.cat(parts, dim=1))
        if self.y_range is not None:
            out = sigmoid_range(out, *self.y_range)
        return out
