"""`Vocab`: token <-> index, special tokens first, rare tokens mapped to `xxunk`.

vocab = Vocab.build(token_lists, min_freq=3, max_vocab=60_000)
ids = vocab.numericalize(["xxbos", "great", "film"])      # np.ndarray of int64
vocab.textify(ids) -> list[str]; len(vocab); vocab.itos; vocab.stoi
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from engine.text.tokenizer import PAD, SPECIAL_TOKENS, UNK

FAKE_TOKEN = "xxfake"  # fills the vocab up to a multiple of 8 (faster matrix shapes)


class Vocab:
    """An ordered token list (`itos`) and its inverse (`stoi`); index 0 is `xxunk`, 1 is `xxpad`."""

    def __init__(self, itos: Sequence[str]) -> None:
        itos = list(itos)
        if itos[:2] != [UNK, PAD]:
            raise ValueError(f"a Vocab must start with {UNK!r}, {PAD!r}; got {itos[:2]}")
        if len(set(itos)) != len(itos):
            duplicates = sorted({t for t in itos if itos.count(t) > 1})[:5]
            raise ValueError(f"duplicate tokens in vocab: {duplicates}")
        self.itos: list[str] = itos
        self.stoi: dict[str, int] = {token: index for index, token in enumerate(itos)}

    @classmethod
    def build(
        cls,
        token_lists: Iterable[Sequence[str]],
        min_freq: int = 3,
        max_vocab: int = 60_000,
        specials: Sequence[str] = SPECIAL_TOKENS,
        pad_to_multiple: int = 8,
    ) -> Vocab:
        """Tokens seen at least `min_freq` times, most frequent first, at most `max_vocab` in all."""
        if min_freq < 1 or max_vocab < len(specials):
            raise ValueError(f"need min_freq >= 1 and max_vocab >= {len(specials)}")
        counts: Counter[str] = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        itos = list(specials)
        seen = set(itos)
        for token, count in counts.most_common():
            if len(itos) >= max_vocab or count < min_freq:
                break
            if token not in seen:
                itos.append(token)
                seen.add(token)
        while pad_to_multiple > 1 and len(itos) % pad_to_multiple:
            itos.append(f"{FAKE_TOKEN}{len(itos)}")
        return cls(itos)

    def __len__(self) -> int:
        return len(self.itos)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.itos == other.itos

    def __hash__(self) -> int:
        return hash(tuple(self.itos))

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens: {self.itos[9:14]}...)"

    @property
    def pad_index(self) -> int:
        return self.stoi[PAD]

    @property
    def unk_index(self) -> int:
        return self.stoi[UNK]

    def numericalize(self, tokens: Sequence[str]) -> np.ndarray:
        get = self.stoi.get
        return np.fromiter((get(token, 0) for token in tokens), dtype=np.int64, count=len(tokens))

    def textify(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[int(i)] for i in ids]

    def to_list(self) -> list[str]:
        """Plain list of tokens, what gets saved next to model weights."""
        return list(self.itos)
