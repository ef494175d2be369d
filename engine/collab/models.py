"""Collaborative-filtering models: a dot product of factors plus biases, or a small network on embeddings.

model = EmbeddingDotBias(n_users, n_items, n_factors=40, y_range=(0, 5.5))
pred = model(user_idx, item_idx)        # float [bs], inside y_range
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from engine.tabular.model import Embedding, lookup_rows, sigmoid_range, small_embedding


class _RowMemory(nn.Module):
    """While `keep_rows` is on (EmbeddingL2 turns it on during fit), the rows of the last training forward
    are kept so a penalty can reuse them instead of looking them up, and differentiating, twice."""

    keep_rows = False
    _last: tuple[Tensor, Tensor, list[Tensor]] | None = None

    def _remember(self, users: Tensor, items: Tensor, rows: list[Tensor]) -> None:
        self._last = (users, items, rows) if self.keep_rows and self.training else None

    def _recall(self, users: Tensor, items: Tensor) -> list[Tensor] | None:
        last, self._last = self._last, None
        if last is not None and last[0] is users and last[1] is items:
            return last[2]
        return None


class EmbeddingDotBias(_RowMemory):
    """rating = sigmoid_range(user_factors · item_factors + user_bias + item_bias, *y_range).

    Factors start small (std 0.01) and biases at zero, so training begins from "everyone rates the middle".
    """

    def __init__(
        self, n_users: int, n_items: int, n_factors: int = 40, y_range: tuple[float, float] | None = None
    ) -> None:
        super().__init__()
        self.u_weight = small_embedding(n_users, n_factors)
        self.i_weight = small_embedding(n_items, n_factors)
        self.u_bias = Embedding(n_users, 1)
        self.i_bias = Embedding(n_items, 1)
        nn.init.zeros_(self.u_bias.weight)
        nn.init.zeros_(self.i_bias.weight)
        self.y_range = y_range

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        rows = self._lookup(users, items)
        self._remember(users, items, rows)
        u, i, ub, ib = rows
        out = (u * i).sum(dim=1) + ub.squeeze(1) + ib.squeeze(1)
        return out if self.y_range is None else sigmoid_range(out, *self.y_range)

    def _lookup(self, users: Tensor, items: Tensor) -> list[Tensor]:
        tables = [self.u_weight, self.i_weight, self.u_bias, self.i_bias]
        return lookup_rows(tables, [users, items, users, items])

    def embeddings_used(self, users: Tensor, items: Tensor) -> list[Tensor]:
        """The factor and bias rows a batch touches (for a per-batch L2 penalty); reuses the last forward's."""
        return self._recall(users, items) or self._lookup(users, items)

    def item_factors(self) -> Tensor:
        return self.i_weight.weight

    def item_biases(self) -> Tensor:
        return self.i_bias.weight.squeeze(1)


class EmbeddingNN(_RowMemory):
    """Concatenated user and item embeddings through Linear -> ReLU (-> Dropout) layers to one rating."""

    def __init__(
        self,
        n_users: int,
        n_items: int,
        user_sz: int = 40,
        item_sz: int = 40,
        layers: Sequence[int] = (64,),
        ps: float = 0.0,
        y_range: tuple[float, float] | None = None,
    ) -> None:
        super().__init__()
        self.u_weight = small_embedding(n_users, user_sz)
        self.i_weight = small_embedding(n_items, item_sz)
        sizes = [user_sz + item_sz, *layers]
        blocks: list[nn.Module] = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            blocks += [nn.Linear(n_in, n_out), nn.ReLU(inplace=True)]
            if ps > 0:
                blocks.append(nn.Dropout(ps))
        blocks.append(nn.Linear(sizes[-1], 1))
        self.layers = nn.Sequential(*blocks)
        self.y_range = y_range

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        rows = lookup_rows([self.u_weight, self.i_weight], [users, items])
        self._remember(users, items, rows)
        out = self.layers(torch.cat(rows, dim=1)).squeeze(1)
        return out if self.y_range is None else sigmoid_range(out, *self.y_range)

    def embeddings_used(self, users: Tensor, items: Tensor) -> list[Tensor]:
        return self._recall(users, items) or lookup_rows([self.u_weight, self.i_weight], [users, items])

    def item_factors(self) -> Tensor:
        return self.i_weight.weight

    def item_biases(self) -> Tensor | None:
        return None
