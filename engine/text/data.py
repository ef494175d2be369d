"""Text data: the language-model stream loader, the padded classifier loader, and the lesson's builders.

    data_lm = lm_data(texts, bs=64, bptt=72, valid_pct=0.1, seed=42)          # TextDataLoaders
    data_clas = clas_data(texts, labels, vocab=data_lm.vocab, bs=32, valid_pct=0.2, seed=42)
    data_clas.classes    # ['neg', 'pos'];  data_lm.vocab: the Vocab;  data_lm.train / .valid: the loaders

`lm_data` and `clas_data` take raw strings; pass `is_valid` (one bool per text) for a fixed split.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import Tensor

from engine.data import DataLoaders
from engine.text.tokenizer import Tokenizer
from engine.text.vocab import Vocab


class LMDataLoader:
    """Documents shuffled (each epoch) and concatenated into `bs` parallel streams, read `bptt` at a time.

    Yields `(x, y)` LongTensors of shape [bs, <=bptt], `y` being `x` shifted one token ahead. Row `i` of
    one batch continues row `i` of the previous one, which is why the model carries its hidden state.
    """

    def __init__(
        self, docs: Sequence[np.ndarray], bs: int = 64, bptt: int = 72, shuffle: bool = False, seed: int = 0
    ) -> None:
        if bs < 1 or bptt < 1:
            raise ValueError(f"bs and bptt must be >= 1, got bs={bs}, bptt={bptt}")
        if not docs:
            raise ValueError("LMDataLoader needs at least one document")
        self.docs = [np.asarray(d, dtype=np.int64) for d in docs]
        self.n_tokens = sum(len(d) for d in self.docs)
        self.bs, self.bptt, self.shuffle = bs, bptt, shuffle
        self.row_len = (self.n_tokens - 1) // bs
        if self.row_len < 1:
            raise ValueError(f"{self.n_tokens} tokens are too few for bs={bs} streams: lower bs")
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return math.ceil(self.row_len / self.bptt)

    @property
    def tokens_per_epoch(self) -> int:
        """Input tokens the model reads in one pass (bs x row length)."""
        return self.bs * self.row_len

    def _stream(self, seed: int | None = None) -> Tensor:
        rng = self._rng if seed is None else np.random.default_rng(seed)
        order = rng.permutation(len(self.docs)) if self.shuffle else range(len(self.docs))
        return torch.from_numpy(np.concatenate([self.docs[i] for i in order]))

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        return self.iter_rows(0, self.bs)

    def iter_rows(self, first: int, stop: int, seed: int | None = None) -> Iterator[tuple[Tensor, Tensor]]:
        """Batches of rows [first, stop) only: a contiguous slice of the epoch's stream, as one process of a
        distributed run reads it. `seed` orders the documents instead of the loader's own generator."""
        stream = self._stream(seed)
        rows, length = stop - first, self.row_len
        offset = first * length
        inputs = stream[offset : offset + rows * length].view(rows, length)
        targets = stream[offset + 1 : offset + rows * length + 1].view(rows, length)
        for start in range(0, length, self.bptt):
            end = start + self.bptt
            yield inputs[:, start:end].contiguous(), targets[:, start:end].contiguous()

    def __repr__(self) -> str:
        return f"LMDataLoader({self.n_tokens} tokens, bs={self.bs}, bptt={self.bptt}, shuffle={self.shuffle})"


def pad_chunked(docs: Sequence[np.ndarray], pad_index: int = 1, bptt: int = 72) -> Tensor:
    """Stack documents into [n, longest] with padding first, in whole `bptt` chunks.

    A document of length n in a batch of width L gets `(L-n)//bptt` chunks of padding in front, then its
    text, then the `(L-n) % bptt` leftover pads at the end; so each text starts on a chunk boundary, which
    lets `ChunkedEncoder` skip padding exactly.
    """
    width = max(len(d) for d in docs)
    out = torch.full((len(docs), width), pad_index, dtype=torch.long)
    for row, doc in enumerate(docs):
        front = ((width - len(doc)) // bptt) * bptt
        out[row, front : front + len(doc)] = torch.from_numpy(np.asarray(doc, dtype=np.int64))
    return out


class SortedPadLoader:
    """Classifier batches of similar-length documents, padded by `pad_chunked`; yields (x, y).

    Training (`shuffle=True`): shuffle, sort within pools of 50 batches by length, shuffle the batches
    (the longest batch first, so a memory problem shows at once). Otherwise: longest first, fixed order.
    """

    def __init__(
        self,
        docs: Sequence[np.ndarray],
        labels: Sequence[int] | np.ndarray,
        bs: int = 32,
        shuffle: bool = False,
        seed: int = 0,
        pad_index: int = 1,
        bptt: int = 72,
    ) -> None:
        if len(docs) != len(labels):
            raise ValueError(f"{len(docs)} documents but {len(labels)} labels")
        if not docs:
            raise ValueError("SortedPadLoader needs at least one document")
        if any(len(d) == 0 for d in docs):
            raise ValueError("empty documents cannot be classified (every text should at least hold xxbos)")
        self.docs = [np.asarray(d, dtype=np.int64) for d in docs]
        self.labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
        self.lengths = np.array([len(d) for d in self.docs])
        self.bs, self.shuffle, self.pad_index, self.bptt = bs, shuffle, pad_index, bptt
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return math.ceil(len(self.docs) / self.bs)

    @property
    def batch_size(self) -> int:
        return self.bs

    def batch_indices(self, seed: int | None = None) -> list[np.ndarray]:
        """The documents of each batch this epoch; `seed` shuffles from it instead of the loader's own
        generator (every process of a distributed run then draws the same batches)."""
        bs = self.bs
        if not self.shuffle:
            order = np.argsort(-self.lengths, kind="stable")
            return [order[i : i + bs] for i in range(0, len(order), bs)]
        rng = self._rng if seed is None else np.random.default_rng(seed)
        order = rng.permutation(len(self.docs))
        pool = bs * 50
        pools = [order[i : i + pool] for i in range(0, len(order), pool)]
        order = np.concatenate([p[np.argsort(-self.lengths[p], kind="stable")] for p in pools])
        batches = [order[i : i + bs] for i in range(0, len(order), bs)]
        longest = max(range(len(batches)), key=lambda b: self.lengths[batches[b]].max())
        rest = [b for b in range(len(batches)) if b != longest]
        rest = [rest[i] for i in rng.permutation(len(rest))]
        return [batches[longest]] + [batches[b] for b in rest]

    def collate(self, rows: np.ndarray) -> tuple[Tensor, Tensor]:
        x = pad_chunked([self.docs[i] for i in rows], self.pad_index, self.bptt)
        return x, self.labels[torch.from_numpy(np.asarray(rows, dtype=np.int64))]

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        for rows in self.batch_indices():
            yield self.collate(rows)

    def __repr__(self) -> str:
        return f"SortedPadLoader({len(self.docs)} docs, bs={self.bs}, shuffle={self.shuffle})"


class TextDataLoaders(DataLoaders):
    """Train/valid loaders plus what a text learner needs: the vocab, the tokenizer, the class names."""

    def __init__(
        self,
        train: LMDataLoader | SortedPadLoader,
        valid: LMDataLoader | SortedPadLoader | None,
        vocab: Vocab,
        tokenizer: Tokenizer,
        classes: list[str] | None = None,
        bptt: int = 72,
    ) -> None:
        super().__init__(train, valid)
        self.vocab, self.tokenizer, self.classes, self.bptt = vocab, tokenizer, classes, bptt

    @property
    def is_lm(self) -> bool:
        return self.classes is None

    def numericalize(self, text: str) -> np.ndarray:
        return self.vocab.numericalize(self.tokenizer(text))

    def __repr__(self) -> str:
        kind = "language model" if self.is_lm else f"classifier {self.classes}"
        return f"TextDataLoaders({kind}, vocab={len(self.vocab)}, train={self.train!r}, valid={self.valid!r})"


def split_valid(n: int, valid_pct: float, seed: int) -> np.ndarray:
    """A boolean mask marking round(n * valid_pct) random rows (at least one when valid_pct > 0)."""
    if not 0.0 <= valid_pct < 1.0:
        raise ValueError(f"valid_pct must be in [0, 1), got {valid_pct}")
    n_valid = min(max(round(n * valid_pct), 1 if valid_pct > 0 else 0), n - 1)
    mask = np.zeros(n, dtype=bool)
    mask[np.random.default_rng(seed).permutation(n)[:n_valid]] = True
    return mask


def _valid_mask(n: int, valid_pct: float, seed: int, is_valid: Sequence[bool] | None) -> np.ndarray:
    if is_valid is None:
        return split_valid(n, valid_pct, seed)
    mask = np.asarray(is_valid, dtype=bool)
    if mask.shape != (n,):
        raise ValueError(f"is_valid must hold one bool per text: {mask.shape[0]} for {n} texts")
    return mask


def _tokenize(texts: Sequence[str], tokenizer: Tokenizer) -> list[list[str]]:
    if isinstance(texts, str):
        raise TypeError("pass a list of texts, not one string")
    if len(texts) == 0:
        raise ValueError("no texts given")
    return tokenizer.tokenize_many(texts)


def lm_data(
    texts: Sequence[str],
    bs: int = 64,
    bptt: int = 72,
    valid_pct: float = 0.1,
    seed: int = 42,
    vocab: Vocab | None = None,
    min_freq: int = 3,
    max_vocab: int = 60_000,
    is_valid: Sequence[bool] | None = None,
    tokenizer: Tokenizer | None = None,
) -> TextDataLoaders:
    """Language-model data: tokenise, build the vocab on the training texts (unless given), stream loaders."""
    tokenizer = tokenizer or Tokenizer()
    tokens = _tokenize(texts, tokenizer)
    valid_mask = _valid_mask(len(tokens), valid_pct, seed, is_valid)
    train_tokens = [t for t, v in zip(tokens, valid_mask) if not v]
    vocab = vocab or Vocab.build(train_tokens, min_freq=min_freq, max_vocab=max_vocab)
    ids = [vocab.numericalize(t) for t in tokens]
    train = LMDataLoader([d for d, v in zip(ids, valid_mask) if not v], bs, bptt, shuffle=True, seed=seed)
    valid_docs = [d for d, v in zip(ids, valid_mask) if v]
    valid = (
        LMDataLoader(valid_docs, min(bs, max(1, sum(map(len, valid_docs)) // 2)), bptt)
        if valid_docs
        else None
    )
    return TextDataLoaders(train, valid, vocab, tokenizer, bptt=bptt)


def clas_data(
    texts: Sequence[str],
    labels: Sequence[str] | Sequence[int],
    vocab: Vocab | None = None,
    bs: int = 32,
    bptt: int = 72,
    valid_pct: float = 0.2,
    seed: int = 42,
    is_valid: Sequence[bool] | None = None,
    min_freq: int = 3,
    max_vocab: int = 60_000,
    tokenizer: Tokenizer | None = None,
) -> TextDataLoaders:
    """Classifier data. Give `vocab=data_lm.vocab` to reuse a fine-tuned language model's encoder."""
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    tokenizer = tokenizer or Tokenizer()
    tokens = _tokenize(texts, tokenizer)
    valid_mask = _valid_mask(len(tokens), valid_pct, seed, is_valid)
    classes = sorted({str(label) for label in labels})
    if len(classes) < 2:
        raise ValueError(f"a classifier needs at least two classes, got {classes}")
    class_index = {c: i for i, c in enumerate(classes)}
    targets = np.array([class_index[str(label)] for label in labels])
    vocab = vocab or Vocab.build([t for t, v in zip(tokens, valid_mask) if not v], min_freq, max_vocab)
    ids = [vocab.numericalize(t) for t in tokens]
    pad = vocab.pad_index

    def loader(selected: np.ndarray, shuffle: bool) -> SortedPadLoader:
        rows = np.flatnonzero(selected)
        return SortedPadLoader([ids[i] for i in rows], targets[rows], bs, shuffle, seed, pad, bptt)

    valid = loader(valid_mask, shuffle=False) if valid_mask.any() else None
    return TextDataLoaders(loader(~valid_mask, shuffle=True), valid, vocab, tokenizer, classes, bptt)
