"""AWD-LSTM (Merity et al. 2017) as plain `nn.Module`s: the language model and the ULMFiT classifier.

    config = AWDLSTMConfig.small()                       # or .lesson() (400/1152/3), .medium(), .tiny()
    lm = AWDLSTMLanguageModel(vocab_size, config, drop_mult=0.3)   # logits [bs, seq, vocab]
    clas = AWDLSTMClassifier(vocab_size, n_classes, config.for_classifier(), drop_mult=0.5)

The encoder runs one fused `nn.LSTM` per layer (the ATen/oneDNN kernel, no Python loop over time).
Regularisation, all scaled by `drop_mult`: `embed_p` drops whole words from the embedding matrix,
`input_p`/`hidden_p`/`output_p` are locked dropout (one mask per sequence, shared across time steps),
`weight_p` is DropConnect on each layer's hidden-to-hidden matrix, applied only in training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

Hidden = list[tuple[Tensor, Tensor]]  # per layer: (h, c), each [1, bs, n_out]


@dataclass(frozen=True)
class AWDLSTMConfig:
    """Sizes and dropout probabilities (before `drop_mult`). Defaults are the language model's."""

    emb_sz: int = 400
    n_hid: int = 1152
    n_layers: int = 3
    pad_token: int = 1
    output_p: float = 0.1
    hidden_p: float = 0.15
    input_p: float = 0.25
    embed_p: float = 0.02
    weight_p: float = 0.2
    tie_weights: bool = True
    out_bias: bool = True
    # Embedding init range. fastai's 0.1 suits its 400-wide model; on the labs' 64-wide one the LM learned
    # to carry sentiment from an opinion to the words after it only with a wider init (measured: no trace
    # of it after 30 epochs at 0.1, clear after 6 at 1.0).
    embed_init: float = 0.1

    def __post_init__(self) -> None:
        if min(self.emb_sz, self.n_hid, self.n_layers) < 1:
            raise ValueError(f"emb_sz, n_hid and n_layers must be positive: {self}")
        for name in ("output_p", "hidden_p", "input_p", "embed_p", "weight_p"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")

    @classmethod
    def lesson(cls) -> AWDLSTMConfig:
        """The lesson's (and fastai's) size: 400 / 1152 / 3 layers. For a GPU."""
        return cls()

    @classmethod
    def medium(cls) -> AWDLSTMConfig:
        """200 / 400 / 2 layers: the benchmark size, a few minutes per IMDB_SAMPLE epoch on a CPU."""
        return cls(emb_sz=200, n_hid=400, n_layers=2)

    @classmethod
    def small(cls) -> AWDLSTMConfig:
        """64 / 192 / 2 layers: seconds per epoch on the generated corpora, for labs on a laptop."""
        return cls(emb_sz=64, n_hid=192, n_layers=2)

    @classmethod
    def tiny(cls) -> AWDLSTMConfig:
        """16 / 32 / 2 layers: for tests."""
        return cls(emb_sz=16, n_hid=32, n_layers=2)

    def for_classifier(self) -> AWDLSTMConfig:
        """Same sizes with the classifier's higher dropouts (fastai's awd_lstm_clas_config)."""
        return replace(self, output_p=0.4, hidden_p=0.3, input_p=0.4, embed_p=0.05, weight_p=0.5)

    def scaled(self, drop_mult: float) -> AWDLSTMConfig:
        """Every dropout probability multiplied by `drop_mult` (capped below 1)."""
        if drop_mult < 0:
            raise ValueError(f"drop_mult must be >= 0, got {drop_mult}")
        probs = {n: min(getattr(self, n) * drop_mult, 0.95) for n in _DROPOUT_FIELDS}
        return replace(self, **probs)


_DROPOUT_FIELDS = ("output_p", "hidden_p", "input_p", "embed_p", "weight_p")


def config_from_state_dict(state: Mapping[str, Tensor], base: AWDLSTMConfig | None = None) -> AWDLSTMConfig:
    """`base` (default: the lesson's) with the sizes, weight tying and output bias of a language model's
    state dict, so a checkpoint of any size can be rebuilt."""
    base = base or AWDLSTMConfig()
    embedding = state["encoder.embedding.weight"]
    n_layers = 1 + max(int(key.split(".")[2]) for key in state if key.startswith("encoder.rnns."))
    # Only a layer that feeds another one has n_hid outputs; a one-layer model never uses n_hid.
    n_hid = state["encoder.rnns.0.module.weight_hh_l0"].shape[1] if n_layers > 1 else base.n_hid
    decoder = state.get("decoder.linear.weight")
    tied = decoder is None or (decoder.shape == embedding.shape and torch.equal(decoder, embedding))
    return replace(
        base,
        emb_sz=embedding.shape[1],
        n_hid=n_hid,
        n_layers=n_layers,
        tie_weights=tied,
        out_bias="decoder.linear.bias" in state,
    )


class RNNDropout(nn.Module):
    """Locked dropout: one mask per sequence and feature, shared by every time step. Input [bs, seq, n]."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        mask = x.new_empty(x.size(0), 1, x.size(2)).bernoulli_(1 - self.p).div_(1 - self.p)
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}"


class EmbeddingDropout(nn.Module):
    """Drops whole rows of an embedding matrix (every occurrence of a word) in training.

    `forward(embedding, words)`: the embedding is passed in, not owned, so its weight is saved only once.
    """

    def __init__(self, embed_p: float) -> None:
        super().__init__()
        self.embed_p = embed_p

    def forward(self, embedding: nn.Embedding, words: Tensor) -> Tensor:
        weight = embedding.weight
        vectors = F.embedding(words, weight, embedding.padding_idx)
        if not self.training or self.embed_p == 0:
            return vectors
        # One mask entry per word of the vocabulary, as when masking the matrix, but applied to the looked-up
        # rows only: the same numbers (row * keep / (1 - p)) without a masked copy of the whole matrix and
        # its backward (4608 looked-up rows against 6568 in the matrix on the benchmark LM).
        keep = weight.new_empty(weight.size(0), 1).bernoulli_(1 - self.embed_p)
        return vectors * F.embedding(words, keep) / (1 - self.embed_p)

    def extra_repr(self) -> str:
        return f"embed_p={self.embed_p}"


class WeightDropout(nn.Module):
    """DropConnect on `weight_hh_l0` of a one-layer `nn.LSTM`, only in training.

    The LSTM keeps its own parameter; for a training call a dropped copy is swapped in for that one call
    (`torch.func.functional_call`), so the fused kernel still runs and gradients reach the parameter.
    """

    def __init__(
        self, module: nn.LSTM, weight_p: float, layer_names: Sequence[str] = ("weight_hh_l0",)
    ) -> None:
        super().__init__()
        self.module = module
        self.weight_p = weight_p
        self.layer_names = tuple(layer_names)

    def forward(self, x: Tensor, hidden: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, tuple]:
        if not self.training or self.weight_p == 0.0:
            return self.module(x, hidden)
        dropped = {
            name: F.dropout(getattr(self.module, name), self.weight_p, training=True)
            for name in self.layer_names
        }
        return functional_call(self.module, dropped, (x, hidden))


def layer_sizes(config: AWDLSTMConfig) -> list[tuple[int, int]]:
    """(input, output) size of each LSTM layer: the last one maps back to `emb_sz` (for weight tying)."""
    sizes = []
    for layer in range(config.n_layers):
        n_in = config.emb_sz if layer == 0 else config.n_hid
        n_out = config.emb_sz if layer == config.n_layers - 1 else config.n_hid
        sizes.append((n_in, n_out))
    return sizes


class AWDLSTMEncoder(nn.Module):
    """Embedding + stacked LSTM. `forward(words [bs, seq], hidden) -> (output [bs, seq, emb], hidden)`."""

    def __init__(self, vocab_size: int, config: AWDLSTMConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(vocab_size, config.emb_sz, padding_idx=config.pad_token)
        nn.init.uniform_(self.embedding.weight, -config.embed_init, config.embed_init)
        with torch.no_grad():
            self.embedding.weight[config.pad_token].zero_()
        self.embedding_dropout = EmbeddingDropout(config.embed_p)
        self.input_dropout = RNNDropout(config.input_p)
        self.rnns = nn.ModuleList(
            WeightDropout(nn.LSTM(n_in, n_out, batch_first=True), config.weight_p)
            for n_in, n_out in layer_sizes(config)
        )
        self.hidden_dropouts = nn.ModuleList(RNNDropout(config.hidden_p) for _ in range(config.n_layers))

    def zero_hidden(self, batch_size: int) -> Hidden:
        weight = self.embedding.weight
        return [
            (weight.new_zeros(1, batch_size, n_out), weight.new_zeros(1, batch_size, n_out))
            for _, n_out in layer_sizes(self.config)
        ]

    def forward(self, words: Tensor, hidden: Hidden | None = None) -> tuple[Tensor, Hidden]:
        if words.dim() != 2:
            raise ValueError(f"expected token ids of shape [batch, seq], got {tuple(words.shape)}")
        if hidden is None:
            hidden = self.zero_hidden(words.size(0))
        output = self.input_dropout(self.embedding_dropout(self.embedding, words))
        new_hidden: Hidden = []
        last = len(self.rnns) - 1
        for layer, (rnn, dropout) in enumerate(zip(self.rnns, self.hidden_dropouts)):
            output, state = rnn(output, hidden[layer])
            new_hidden.append(state)
            if layer != last:
                output = dropout(output)
        return output, new_hidden


class LinearDecoder(nn.Module):
    """Output dropout then a linear layer back to the vocabulary, its weight tied to the embedding."""

    def __init__(self, vocab_size: int, config: AWDLSTMConfig, tie_to: nn.Embedding | None = None) -> None:
        super().__init__()
        self.output_dropout = RNNDropout(config.output_p)
        self.linear = nn.Linear(config.emb_sz, vocab_size, bias=config.out_bias)
        if tie_to is not None:
            self.linear.weight = tie_to.weight
        else:
            nn.init.uniform_(self.linear.weight, -0.1, 0.1)
        if self.linear.bias is not None:
            nn.init.zeros_(self.linear.bias)

    def forward(self, output: Tensor) -> Tensor:
        return self.linear(self.output_dropout(output))


def detach_hidden(hidden: Hidden) -> Hidden:
    """Cut the graph; kept in float32 so a state made under bf16 autocast also feeds an fp32 call."""
    return [(h.detach().float(), c.detach().float()) for h, c in hidden]


class AWDLSTMLanguageModel(nn.Module):
    """Encoder + tied decoder. Carries the (detached) hidden state from batch to batch until `reset()`."""

    def __init__(self, vocab_size: int, config: AWDLSTMConfig, drop_mult: float = 1.0) -> None:
        super().__init__()
        self.config = config.scaled(drop_mult)
        self.encoder = AWDLSTMEncoder(vocab_size, self.config)
        self.decoder = LinearDecoder(
            vocab_size, self.config, tie_to=self.encoder.embedding if self.config.tie_weights else None
        )
        self.hidden: Hidden | None = None
        self.keep_activations = False  # set by the AR/TAR regulariser callback
        self.activations: tuple[Tensor, Tensor] | None = None  # (last layer output, after output dropout)

    def reset(self) -> None:
        """Forget the carried hidden state (start of an epoch, of validation, of a generated text)."""
        self.hidden = None

    def forward(self, words: Tensor) -> Tensor:
        hidden = self.hidden
        if hidden is not None and hidden[0][0].size(1) != words.size(0):
            hidden = None  # the batch size changed: the carried state belongs to other streams
        output, new_hidden = self.encoder(words, hidden)
        self.hidden = detach_hidden(new_hidden)
        dropped = self.decoder.output_dropout(output)
        self.activations = (output, dropped) if self.keep_activations and self.training else None
        return biased_logits(self.decoder.linear, dropped)


def biased_logits(linear: nn.Linear, inputs: Tensor) -> Tensor:
    """`linear(inputs)` with the bias folded into the matrix product: [inputs, 1, 0] @ [weight, bias, 0]^T.

    A bf16 addmm first copies the broadcast bias into the [bs, seq, vocab] logits and backward sums the
    logits' gradient for the bias; folded in, both ride on the GEMMs (the extra column of ones gives the bias
    gradient). The zero column keeps the inner size even for bf16. The concatenation also makes the LSTM's
    batch-first output (a time-major tensor seen transposed) contiguous, which a GEMM needs. On the benchmark
    LM's shapes decoder + loss, forward and backward, went from about 500 to 355 ms of CPU (loaded machine).
    """
    if linear.bias is None:
        return linear(inputs.contiguous())
    one_zero = inputs.new_zeros(*inputs.shape[:-1], 2)
    one_zero[..., 0] = 1.0
    weight = torch.cat(
        [linear.weight, linear.bias[:, None], linear.weight.new_zeros(linear.out_features, 1)], 1
    )
    return F.linear(torch.cat([inputs, one_zero], -1), weight)


def masked_concat_pool(output: Tensor, pad_mask: Tensor) -> Tensor:
    """[last, max, mean] over the non-padding time steps. output [bs, seq, n], pad_mask [bs, seq] -> [bs, 3n]."""
    output = output.float()
    real = ~pad_mask
    lengths = real.sum(1, keepdim=True).clamp(min=1)
    positions = torch.arange(output.size(1), device=output.device).expand_as(real)
    last_index = torch.where(real, positions, torch.full_like(positions, -1)).amax(1).clamp(min=0)
    last = output[torch.arange(output.size(0), device=output.device), last_index]
    maximum = output.masked_fill(pad_mask.unsqueeze(-1), float("-inf")).amax(1)
    maximum = torch.where(torch.isinf(maximum), torch.zeros_like(maximum), maximum)  # an all-pad row
    mean = (output * real.unsqueeze(-1)).sum(1) / lengths
    return torch.cat([last, maximum, mean], dim=1)


class ChunkedEncoder(nn.Module):
    """Runs the encoder over a padded batch in `bptt`-sized chunks, starting from a zero state.

    Batches are padded pad-first in whole chunks (see `engine.text.data.pad_chunked`), so every text
    starts at a chunk boundary; a chunk is run only for the rows that have text in it, the others keep
    their zero state. So padding never changes a document's outputs. Only the chunks within the last
    `max_len` tokens are returned (with their padding mask) for pooling.
    """

    def __init__(self, encoder: AWDLSTMEncoder, bptt: int = 72, max_len: int = 72 * 20) -> None:
        super().__init__()
        if max_len < bptt:
            raise ValueError(f"max_len ({max_len}) must be at least bptt ({bptt})")
        self.encoder = encoder
        self.bptt = bptt
        self.max_len = max_len

    def forward(self, words: Tensor) -> tuple[Tensor, Tensor]:
        batch_size, seq_len = words.shape
        pad = self.encoder.config.pad_token
        hidden = self.encoder.zero_hidden(batch_size)
        outputs, masks = [], []
        for start in range(0, seq_len, self.bptt):
            chunk = words[:, start : start + self.bptt]
            is_pad = chunk == pad
            active = (~is_pad).any(1).nonzero().squeeze(1)
            if active.numel() == batch_size:
                output, hidden = self.encoder(chunk, hidden)
            else:
                output, hidden = self._run_rows(chunk, hidden, active)
            if seq_len - start <= self.max_len:
                outputs.append(output)
                masks.append(is_pad)
        return torch.cat(outputs, dim=1), torch.cat(masks, dim=1)

    def _run_rows(self, chunk: Tensor, hidden: Hidden, rows: Tensor) -> tuple[Tensor, Hidden]:
        """Run the chunk for `rows` only; other rows get zero outputs and keep their state."""
        emb_sz = self.encoder.config.emb_sz
        if rows.numel() == 0:
            return chunk.new_zeros(chunk.size(0), chunk.size(1), emb_sz, dtype=torch.float), hidden
        sub_hidden = [(h[:, rows], c[:, rows]) for h, c in hidden]
        sub_output, sub_new = self.encoder(chunk[rows], sub_hidden)
        output = sub_output.new_zeros(chunk.size(0), chunk.size(1), emb_sz).index_copy(0, rows, sub_output)
        merged = [
            (h.to(nh.dtype).index_copy(1, rows, nh), c.to(nc.dtype).index_copy(1, rows, nc))
            for (h, c), (nh, nc) in zip(hidden, sub_new)
        ]
        return output, merged


class WarmStartBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm1d whose running statistics start from the first training batch's, not from mean 0 / var 1.

    Pooled LSTM features can vary across documents by far less than 1 (variance 1e-5 on templated text);
    from var 1 the running average needs hundreds of batches to get there, and until then the eval-mode
    layer squashes the features that training learned to read.
    """

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.num_batches_tracked is None or int(self.num_batches_tracked) > 0:
            return super().forward(x)
        momentum, self.momentum = self.momentum, 1.0
        try:
            return super().forward(x)
        finally:
            self.momentum = momentum


class PoolingClassifier(nn.Module):
    """Concat pooling then [BatchNorm, Dropout, Linear, ReLU] blocks: 3*emb -> lin_ftrs... -> n_classes."""

    def __init__(self, n_in: int, n_classes: int, lin_ftrs: Sequence[int] = (50,), ps: Sequence[float] = ()):
        super().__init__()
        sizes = [n_in, *lin_ftrs, n_classes]
        ps = list(ps) or [0.1] * (len(sizes) - 1)
        if len(ps) != len(sizes) - 1:
            raise ValueError(f"need {len(sizes) - 1} dropout probabilities, got {len(ps)}")
        layers: list[nn.Module] = []
        for index, (n_from, n_to, p) in enumerate(zip(sizes[:-1], sizes[1:], ps)):
            layers += [WarmStartBatchNorm1d(n_from), nn.Dropout(p), nn.Linear(n_from, n_to)]
            if index < len(sizes) - 2:
                layers.append(nn.ReLU(inplace=True))
        self.layers = nn.Sequential(*layers)

    def forward(self, encoded: tuple[Tensor, Tensor]) -> Tensor:
        output, pad_mask = encoded
        return self.layers(masked_concat_pool(output, pad_mask))


class AWDLSTMClassifier(nn.Module):
    """ULMFiT classifier: `ChunkedEncoder` over an AWD-LSTM encoder, then `PoolingClassifier`."""

    def __init__(
        self,
        vocab_size: int,
        n_classes: int,
        config: AWDLSTMConfig,
        drop_mult: float = 1.0,
        bptt: int = 72,
        max_len: int = 72 * 20,
        lin_ftrs: Sequence[int] = (50,),
    ) -> None:
        super().__init__()
        self.config = config.scaled(drop_mult)
        self.encoder = ChunkedEncoder(AWDLSTMEncoder(vocab_size, self.config), bptt=bptt, max_len=max_len)
        ps = [self.config.output_p] + [0.1] * len(lin_ftrs)
        self.head = PoolingClassifier(3 * self.config.emb_sz, n_classes, lin_ftrs, ps)

    def reset(self) -> None:
        """Nothing is carried between batches; here so every text model answers `reset()`."""

    def forward(self, words: Tensor) -> Tensor:
        return self.head(self.encoder(words))
