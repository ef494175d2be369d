"""TabularModel: an embedding per categorical column, continuous columns as they are, then a small MLP.

model = TabularModel(emb_szs=[(10, 6), (17, 8)], n_cont=3, out_sz=2, layers=[200, 100])
pred = model(x_cat, x_cont)        # x_cat: int64 [bs, n_cat], x_cont: float32 [bs, n_cont]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


def emb_sz_rule(n_categories: int) -> int:
    """fastai's rule of thumb for an embedding width: `min(600, round(1.6 * n ** 0.56))`."""
    return min(600, round(1.6 * n_categories**0.56))


def sigmoid_range(x: Tensor, low: float, high: float) -> Tensor:
    """Squash `x` into (low, high) with a sigmoid."""
    return torch.sigmoid(x) * (high - low) + low


def small_embedding(n: int, width: int, std: float = 0.01) -> nn.Embedding:
    """Embeddings start near zero (truncated normal, std 0.01) so no category dominates the first steps."""
    emb = nn.Embedding(n, width)
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
            embedded = [emb(x_cat[:, i]) for i, emb in enumerate(self.embeds)]
            parts.append(self.emb_drop(torch.cat(embedded, dim=1)))
        if self.n_cont:
            parts.append(self.bn_cont(x_cont) if self.bn_cont is not None else x_cont)
        out = self.layers(torch.cat(parts, dim=1))
        if self.y_range is not None:
            out = sigmoid_range(out, *self.y_range)
        return out
