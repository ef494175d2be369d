"""ULMFiT learners: `language_model_learner` and `text_classifier_learner`, with encoder transfer.

    learn = language_model_learner(data_lm, config=AWDLSTMConfig.small(), drop_mult=0.3,
                                   metrics=[accuracy, perplexity])
    learn.fit_one_cycle(1, 2e-2)
    learn.predict("I liked this movie because", n_words=40, temperature=0.75)  # -> str
    learn.save_encoder("fine_tuned_enc")           # encoder weights + the vocab, under learn.path/models

    learn = text_classifier_learner(data_clas, config=AWDLSTMConfig.small(), drop_mult=0.5, metrics=[accuracy])
    learn.load_encoder("fine_tuned_enc")           # data_clas must use the LM's vocab (clas_data(..., vocab=))
    learn.freeze(); learn.fit_one_cycle(1, 2e-2)
    learn.freeze_to(-2); learn.fit_one_cycle(1, slice(1e-2 / 2.6**4, 1e-2))
    learn.predict("I really loved that movie")    # -> (label, index, probabilities)

Pretraining on one corpus and fine-tuning on another: `lm.save_pretrained("general")`, then
`language_model_learner(target_data, pretrained="general")` maps the shared tokens and gives new ones the
mean embedding. fastai's WikiText-103 model loads the same way: `language_model_learner(data,
AWDLSTMConfig.lesson(), pretrained="wt103-fwd", models_home=home)` once `cardlab data fetch wt103-fwd` ran. Text learners default to momentum (0.8, 0.7, 0.8) and `mixed_precision="auto"` (bf16 on
CPUs and GPUs that compute it natively).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.callbacks.core import Callback
from engine.callbacks.mixed_precision import MixedPrecision
from engine.datasets.catalog import CATALOG
from engine.datasets.fetch import HomeLike, dataset_path
from engine.distributed import write_on_main
from engine.learner import Learner
from engine.metrics import Metric
from engine.text.awd_lstm import (
    AWDLSTMClassifier,
    AWDLSTMConfig,
    AWDLSTMEncoder,
    AWDLSTMLanguageModel,
    config_from_state_dict,
)
from engine.text.data import TextDataLoaders
from engine.text.fastai_weights import describe_sizes, is_fastai_folder, read_fastai_checkpoint
from engine.text.loss import flat_cross_entropy
from engine.text.memory import keep_freed_memory
from engine.text.tokenizer import BOS, PAD, UNK, decode
from engine.text.vocab import FAKE_TOKEN, Vocab
from engine.utils import save_atomic

TEXT_MOMS = (0.8, 0.7, 0.8)


def _save_on_main(state: dict[str, Any], file: Path) -> Path:
    """Rank 0 alone writes a distributed run's file (every rank holds the same weights); the others wait."""
    write_on_main(lambda: save_atomic(state, file))
    return file


def classifier_loss(pred: Tensor, targ: Tensor) -> Tensor:
    return F.cross_entropy(pred.float(), targ)


class LowPrecisionLogits(MixedPrecision):
    """The engine's MixedPrecision, but the prediction stays bf16 after the forward pass.

    The language model's loss (`flat_cross_entropy`) does its math in fp32 itself and is twice as fast
    on bf16 logits; casting the [bs * bptt, vocab] logits to fp32 first would cost a full extra copy.
    """

    def after_pred(self) -> None:
        self._leave()


class RNNReset(Callback):
    """Resets the model's carried hidden state at the start of each training and validation pass."""

    order = -10

    def _reset(self) -> None:
        reset = getattr(self.learn.model, "reset", None)
        if callable(reset):
            reset()

    before_fit = before_train = before_validate = after_fit = _reset


class RNNRegularizer(Callback):
    """AR and TAR from AWD-LSTM: alpha * mean(dropped output^2) + beta * mean((h_t - h_{t-1})^2), training only."""

    order = 10

    def __init__(self, alpha: float = 2.0, beta: float = 1.0) -> None:
        self.alpha, self.beta = alpha, beta

    @property
    def model(self) -> AWDLSTMLanguageModel:
        return cast(AWDLSTMLanguageModel, self.learn.model)

    def before_fit(self) -> None:
        self.model.keep_activations = True

    def after_fit(self) -> None:
        self.model.keep_activations = False

    def after_loss(self) -> None:
        activations = getattr(self.learn.model, "activations", None)
        if not self.learn.training or activations is None:
            return
        raw, dropped = (a.float() for a in activations)
        penalty = self.alpha * dropped.pow(2).mean()
        if raw.size(1) > 1:  # TAR needs two time steps; a final one-token batch would give mean([]) = NaN
            penalty = penalty + self.beta * (raw[:, 1:] - raw[:, :-1]).pow(2).mean()
        self.learn.loss = self.learn.loss + penalty


# ---- splitters (layer groups for freeze_to and discriminative learning rates) ------------------------------


def _unique(params: Iterable[nn.Parameter], seen: set[int]) -> list[nn.Parameter]:
    out = []
    for p in params:
        if id(p) not in seen:
            seen.add(id(p))
            out.append(p)
    return out


def lm_splitter(model: AWDLSTMLanguageModel) -> list[list[nn.Parameter]]:
    """One group per LSTM layer, then embedding + decoder (tied) last: 4 groups for 3 layers."""
    seen: set[int] = set()
    groups = [_unique(rnn.parameters(), seen) for rnn in model.encoder.rnns]
    groups.append(_unique([*model.encoder.embedding.parameters(), *model.decoder.parameters()], seen))
    return groups


def classifier_splitter(model: AWDLSTMClassifier) -> list[list[nn.Parameter]]:
    """Embedding first, one group per LSTM layer, the head last: 5 groups for 3 layers."""
    encoder = model.encoder.encoder
    seen: set[int] = set()
    groups = [_unique(encoder.embedding.parameters(), seen)]
    groups += [_unique(rnn.parameters(), seen) for rnn in encoder.rnns]
    groups.append(_unique(model.head.parameters(), seen))
    return groups


# ---- saving, loading and vocab transfer --------------------------------------------------------------------


def _check_same_vocab(saved: Sequence[str], current: Vocab, what: str) -> None:
    if list(saved) == current.itos:
        return
    first_diff = next(
        (i for i, (a, b) in enumerate(zip(saved, current.itos)) if a != b), min(len(saved), len(current))
    )
    raise ValueError(
        f"vocab mismatch: the {what} was trained with a vocab of {len(saved)} tokens, but this learner's data "
        f"was numericalised with a different vocab of {len(current)} tokens (first difference at index "
        f"{first_diff}). The classifier data must use the language model's vocab: build it with "
        "`clas_data(texts, labels, vocab=lm_data.vocab)`."
    )


def _sizes(config: AWDLSTMConfig) -> dict[str, int]:
    return {"emb_sz": config.emb_sz, "n_hid": config.n_hid, "n_layers": config.n_layers}


def _load_file(file: Path, device: torch.device) -> dict[str, Any]:
    if not file.exists():
        raise FileNotFoundError(f"no saved weights at {file}")
    return torch.load(file, map_location=device, weights_only=True)


def remap_vocab_rows(weight: Tensor, old_itos: Sequence[str], new_itos: Sequence[str]) -> tuple[Tensor, int]:
    """Rows (embedding rows, decoder bias entries) re-ordered for a new vocab; new tokens get the mean row.

    Returns the new tensor and how many tokens of the new vocab were found in the old one.
    """
    old_index = {token: i for i, token in enumerate(old_itos)}
    mean_row = weight.mean(0)
    new = mean_row.expand(len(new_itos), *weight.shape[1:]).clone()
    pairs = [
        (n, old_index[t]) for n, t in enumerate(new_itos) if t in old_index and not t.startswith(FAKE_TOKEN)
    ]
    if pairs:
        new_rows, old_rows = (torch.tensor(p, dtype=torch.long, device=weight.device) for p in zip(*pairs))
        new[new_rows] = weight[old_rows]
    return new, len(pairs)


# The embedding appears twice in state_dict (also under EmbeddingDropout); both rows must be remapped.
_VOCAB_KEYS = (
    "encoder.embedding.weight",
    "encoder.embedding_dropout.embedding.weight",
    "decoder.linear.weight",
    "decoder.linear.bias",
)


class TextLearner(Learner):
    """What both text learners share: the vocab, the tokenizer, and encoder save/load."""

    dls: TextDataLoaders

    @property
    def vocab(self) -> Vocab:
        return self.dls.vocab

    def _encoder(self) -> AWDLSTMEncoder:
        raise NotImplementedError

    def _models_file(self, name: str | Path) -> Path:
        name = Path(name)
        if name.suffix == ".pth" or name.is_absolute():
            return name
        return self.path / "models" / f"{name}.pth"

    def save_encoder(self, name: str | Path, include_lm: bool = False) -> Path:
        """Save the encoder's weights with the vocab and the sizes (path/models/name.pth).

        `include_lm` (language models only) keeps the whole model too, so the same file also serves
        `language_model_learner(pretrained=...)`, e.g. to fine-tune it further or to generate text.
        """
        state: dict[str, Any] = {
            "encoder": self._encoder().state_dict(),
            "vocab": self.vocab.to_list(),
            "sizes": _sizes(self._encoder().config),
        }
        if include_lm:
            state["model"] = self.model.state_dict()
        return _save_on_main(state, self._models_file(name))

    def load_encoder(self, name: str | Path) -> TextLearner:
        """Load an encoder saved by `save_encoder`, then `freeze()` (as fastai does) so the next fit trains
        the head; the vocab and the sizes must match this learner's."""
        state = _load_file(self._models_file(name), self.device)
        _check_same_vocab(state["vocab"], self.vocab, "encoder")
        mine = _sizes(self._encoder().config)
        if state["sizes"] != mine:
            raise ValueError(
                f"encoder sizes differ: saved {state['sizes']}, this model {mine}; use the same config"
            )
        self._encoder().load_state_dict(state["encoder"])
        self.freeze()
        return self

    def _tensor(self, text: str) -> Tensor:
        if not isinstance(text, str):
            raise TypeError(f"predict expects a str, got {type(text).__name__}")
        ids = self.dls.numericalize(text)
        return torch.as_tensor(ids, dtype=torch.long, device=self.device).unsqueeze(0)


class LMLearner(TextLearner):
    model: AWDLSTMLanguageModel

    def _encoder(self) -> AWDLSTMEncoder:
        return self.model.encoder

    def predict(
        self,
        text: str,
        n_words: int = 40,
        temperature: float = 0.75,
        no_unk: bool = True,
        seed: int | None = None,
    ) -> str:
        """Continue `text` by `n_words` sampled tokens (temperature 0: greedy); returns readable text."""
        prompt = self.dls.tokenizer(text)
        return decode(prompt + self.generate(text, n_words, temperature, no_unk, seed))

    def generate(
        self,
        text: str,
        n_words: int = 40,
        temperature: float = 0.75,
        no_unk: bool = True,
        seed: int | None = None,
    ) -> list[str]:
        """The `n_words` tokens sampled after `text` (never xxunk when `no_unk`, never xxpad/xxbos)."""
        if n_words < 0:
            raise ValueError(f"n_words must be >= 0, got {n_words}")
        generator = torch.Generator(device=self.device)
        generator.manual_seed(seed) if seed is not None else generator.seed()
        banned = self._banned_ids(no_unk)
        prompt = self._tensor(text)
        was_training = self.model.training
        self.model.eval()
        self.model.reset()
        new_ids: list[int] = []
        try:
            with torch.no_grad():
                logits = self.model(prompt)[0, -1]
                for _ in range(n_words):
                    next_id = self._sample(logits.float(), banned, temperature, generator)
                    new_ids.append(next_id)
                    logits = self.model(torch.tensor([[next_id]], device=self.device))[0, -1]
        finally:
            self.model.reset()
            self.model.train(was_training)
        return self.vocab.textify(new_ids)

    def _banned_ids(self, no_unk: bool) -> Tensor:
        never = {PAD, BOS} | ({UNK} if no_unk else set())
        ids = [i for i, t in enumerate(self.vocab.itos) if t in never or t.startswith(FAKE_TOKEN)]
        return torch.tensor(ids, dtype=torch.long, device=self.device)

    @staticmethod
    def _sample(logits: Tensor, banned: Tensor, temperature: float, generator: torch.Generator) -> int:
        logits = logits.index_fill(0, banned, float("-inf"))
        if temperature <= 0:
            return int(logits.argmax())
        probs = torch.softmax(logits / temperature, dim=0)
        return int(torch.multinomial(probs, 1, generator=generator))

    def save_pretrained(self, name: str | Path) -> Path:
        """Save the whole language model with its vocab, to start another corpus's LM from it."""
        state = {"model": self.model.state_dict(), "vocab": self.vocab.to_list()}
        return _save_on_main(state, self._models_file(name))

    def load_pretrained(self, name: str | Path, models_home: HomeLike | None = None) -> dict[str, int]:
        """Load a pretrained LM into this learner's vocab: shared tokens keep their rows, new ones get the
        mean embedding and bias. Returns {"shared": n, "new": m}.

        `name`: a `save_pretrained` name or file; a folder in fastai's layout (one .pth, one .pkl); or, with
        `models_home` (a `cards.paths.Home` or a datasets cache folder), a catalog name such as "wt103-fwd",
        read from the datasets cache. The checkpoint's sizes must be this learner's config's.
        """
        weights, old_itos = self._read_pretrained(name, models_home)
        self._check_pretrained(weights, old_itos)
        shared = 0
        for key in _VOCAB_KEYS:
            if key in weights:
                weights[key], shared = remap_vocab_rows(weights[key], old_itos, self.vocab.itos)
        try:
            self.model.load_state_dict(weights)
        except RuntimeError as err:
            raise ValueError(f"the pretrained weights do not fit this model: {err}") from None
        self.opt = None
        real_tokens = sum(not t.startswith(FAKE_TOKEN) for t in self.vocab.itos)
        return {"shared": shared, "new": real_tokens - shared}

    def _read_pretrained(
        self, name: str | Path, models_home: HomeLike | None
    ) -> tuple[dict[str, Tensor], list]:
        """(state dict under the engine's keys, the vocab it was trained with), from either source."""
        if models_home is not None and str(name) in CATALOG:
            return read_fastai_checkpoint(dataset_path(str(name), models_home))
        if is_fastai_folder(name):
            return read_fastai_checkpoint(name)
        file = self._models_file(name)
        if not file.exists() and str(name) in CATALOG:
            raise FileNotFoundError(
                f"no saved weights at {file}; {str(name)!r} is a catalog name: pass models_home= (a Home or the "
                f"datasets cache) to read it from the cache (`cardlab data fetch {name}`)"
            )
        state = _load_file(file, self.device)
        return dict(state["model"]), list(state["vocab"])

    def _check_pretrained(self, weights: dict[str, Tensor], old_itos: Sequence[str]) -> None:
        found = config_from_state_dict(weights, base=self.model.config)
        if found != self.model.config:
            raise ValueError(
                f"the pretrained model is {describe_sizes(found)}, but this learner's config is "
                f"{describe_sizes(self.model.config)}: build the learner with the checkpoint's sizes "
                "(config=AWDLSTMConfig.lesson() for fastai's wt103-fwd)"
            )
        rows = weights["encoder.embedding.weight"].shape[0]
        if rows != len(old_itos):
            raise ValueError(f"the pretrained vocab has {len(old_itos)} tokens but the embedding {rows} rows")


class TextClassifierLearner(TextLearner):
    model: AWDLSTMClassifier

    def _encoder(self) -> AWDLSTMEncoder:
        return self.model.encoder.encoder

    def predict(self, text: str) -> tuple[str, int, Tensor]:
        """(label, class index, probabilities over `dls.classes`) for one text."""
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                probs = torch.softmax(self.model(self._tensor(text))[0].float(), dim=0).cpu()
        finally:
            self.model.train(was_training)
        index = int(probs.argmax())
        classes = self.dls.classes or []  # a classifier's loaders always name their classes
        return classes[index], index, probs


def _check_data(data: TextDataLoaders, want_lm: bool) -> None:
    if not isinstance(data, TextDataLoaders):
        raise TypeError(f"expected TextDataLoaders from lm_data/clas_data, got {type(data).__name__}")
    if want_lm and not data.is_lm:
        raise ValueError("language_model_learner needs language-model data: build it with lm_data(texts)")
    if not want_lm and data.is_lm:
        raise ValueError(
            "text_classifier_learner needs labelled data: build it with clas_data(texts, labels)"
        )


def language_model_learner(
    data: TextDataLoaders,
    config: AWDLSTMConfig | None = None,
    drop_mult: float = 0.3,
    metrics: Iterable[Metric | Any] = (),
    pretrained: str | Path | None = None,
    models_home: HomeLike | None = None,
    moms: tuple[float, float, float] = TEXT_MOMS,
    mixed_precision: str | None = "auto",
    alpha: float = 2.0,
    beta: float = 1.0,
    cbs: Iterable[Callback] = (),
    **kwargs: Any,
) -> LMLearner:
    """An AWD-LSTM language model learner (default size `AWDLSTMConfig.small()`).

    `pretrained`: a name or file saved by `save_pretrained`, a folder in fastai's layout, or with `models_home`
    a catalog name ("wt103-fwd", with `config=AWDLSTMConfig.lesson()`); loaded with the vocab mapping.
    `alpha`, `beta`: AR/TAR activation regularisation (0 turns it off). Other kwargs go to `Learner`.
    """
    _check_data(data, want_lm=True)
    keep_freed_memory()
    config = config or AWDLSTMConfig.small()
    model = AWDLSTMLanguageModel(len(data.vocab), config, drop_mult=drop_mult)
    callbacks: list[Callback] = [RNNReset()]
    if mixed_precision:
        callbacks.append(LowPrecisionLogits(mixed_precision))
    if alpha or beta:
        callbacks.append(RNNRegularizer(alpha, beta))
    learn = LMLearner(
        model,
        data,
        flat_cross_entropy,
        metrics=metrics,
        splitter=lm_splitter,
        moms=moms,
        mixed_precision=None,
        cbs=[*callbacks, *cbs],
        **kwargs,
    )
    if pretrained is not None:
        learn.load_pretrained(pretrained, models_home)
    return learn


def text_classifier_learner(
    data: TextDataLoaders,
    config: AWDLSTMConfig | None = None,
    drop_mult: float = 0.5,
    metrics: Iterable[Metric | Any] = (),
    classifier_dropouts: bool = True,
    lin_ftrs: Sequence[int] = (50,),
    max_len: int = 72 * 20,
    moms: tuple[float, float, float] = TEXT_MOMS,
    mixed_precision: str | None = "auto",
    cbs: Iterable[Callback] = (),
    **kwargs: Any,
) -> TextClassifierLearner:
    """A ULMFiT classifier learner; give it the same `config` sizes as the language model it reuses.

    `classifier_dropouts`: replace the config's dropouts by the classifier's higher ones (as fastai does).
    """
    _check_data(data, want_lm=False)
    keep_freed_memory()
    config = config or AWDLSTMConfig.small()
    if classifier_dropouts:
        config = config.for_classifier()
    model = AWDLSTMClassifier(
        len(data.vocab),
        len(data.classes or ()),
        config,
        drop_mult,
        bptt=data.bptt,
        max_len=max_len,
        lin_ftrs=lin_ftrs,
    )
    return TextClassifierLearner(
        model,
        data,
        classifier_loss,
        metrics=metrics,
        splitter=classifier_splitter,
        moms=moms,
        mixed_precision=mixed_precision,
        cbs=[RNNReset(), *cbs],
        **kwargs,
    )
