"""The language model on the reviews: fine-tuning the pretrained LM (the encoder the classifier labs load)
and the review LM's experiments (ulmfit-lm, lr-find): held-out scores on covered words, probes of the
encoder, the split of the reviews."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.datasets.text import (
    generate_review_corpus,
    read_imdb_csv,
    read_imdb_folder,
)
from engine.text import (
    LMLearner,
    lm_data,
)
from engine.text.data import LMDataLoader
from engine.text.tokenizer import Tokenizer
from engine.text.vocab import Vocab
from labs._evidence import validate_by_batch
from labs.context import LabContext
from labs.model_store import FINE_TUNED_ENC, ModelEntry, sized_name

if TYPE_CHECKING:
    from torch import Tensor
from labs._pretraining import (
    pretrained_lm,
)
from labs._ulmfit import (
    LAB_SIZES,
    MIN_VOCAB_COVERAGE,
    Reviews,
    sizes_of,
    store_of,
    vocab_coverage,
    watched_lm_learner,
)


@dataclass
class FineTuned:
    """A fine-tuned language model, measured on the held-out texts before and after (batch by batch)."""

    learn: LMLearner
    before: dict[str, float]
    before_losses: list[float]
    after: dict[str, float]
    after_losses: list[float]
    entry: ModelEntry


def fine_tune_lm(
    ctx: LabContext,
    texts: list[str],
    is_valid: list[bool],
    epochs: int,
    lr: float,
    bptt: int,
    drop_mult: float = 0.3,
    corpus: str = "reviews",
    start: tuple[str | Path, str] | None = None,
) -> FineTuned:
    """The pretrained LM (`start`: weights and how to say so; default `pretrained_lm`) fine-tuned on `texts`,
    saved as `fine_tuned_enc` (encoder, LM and vocab) in the store for the next lab."""
    pretrained, described = start or pretrained_lm(ctx)
    ctx.text(f"language_model_learner(data_lm, pretrained=...): {described}", kind="explanation")
    ctx.curve("review LM (fine-tuning)")
    data = lm_data(texts, bs=ctx.p.bs, bptt=bptt, is_valid=is_valid, seed=ctx.seed)
    learn = watched_lm_learner(ctx, data, drop_mult, pretrained=pretrained)
    before, before_losses = validate_by_batch(learn)
    seconds = fit_lm_recipe(learn, epochs, lr, pretrained=True)
    after, after_losses = validate_by_batch(learn)
    store = store_of(ctx)
    name = sized_name(FINE_TUNED_ENC, sizes_of(ctx), LAB_SIZES)
    learn.save_encoder(store.weights_path(name), include_lm=True)
    entry = store.record(
        ModelEntry(
            name=name,
            kind="encoder",
            corpus=f"{len(texts)} {corpus}",
            tokens_seen=data.train.tokens_per_epoch * epochs,
            config=sizes_of(ctx),
            vocab_size=len(learn.vocab),
            valid_perplexity=round(float(after["perplexity"]), 3),
            valid_accuracy=round(float(after["accuracy"]), 4),
            seed=ctx.seed,
            parent=str(pretrained),
            seconds=round(seconds, 2),
        )
    )
    ctx.artifact(f"save_encoder('{name}') in the model store", store.weights_path(name))
    return FineTuned(learn, before, before_losses, after, after_losses, entry)


def encoder_for(
    ctx: LabContext,
    reviews: Reviews,
    lm_epochs: int,
    lr: float = 1e-2,
    min_coverage: float | Callable[[], float] = MIN_VOCAB_COVERAGE,
    covered: Sequence[str] | None = None,
) -> tuple[Vocab, str]:
    """The store's `fine_tuned_enc` when its vocab covers at least `min_coverage` of the words of `covered`
    (default: the reviews' labelled and held-out texts), else one fine-tuned here (and stored for the next
    lab). `min_coverage` may be a function: it is then asked only when the store holds an encoder to judge.
    Returns its vocab and the name to `load_encoder`."""
    import torch

    store = store_of(ctx)
    name = sized_name(FINE_TUNED_ENC, sizes_of(ctx), LAB_SIZES)
    entry = store.find(name)
    if entry is not None:
        saved = torch.load(store.weights_path(name), map_location="cpu", weights_only=True)
        vocab = Vocab(saved["vocab"])
        texts = list(covered) if covered is not None else reviews.train_texts + reviews.valid_texts
        coverage = vocab_coverage(vocab, texts)
        threshold = min_coverage() if callable(min_coverage) else min_coverage
        if coverage >= threshold:
            ctx.text(
                f"load_encoder('{name}'): {entry.describe()}, made by an earlier lab; its vocab covers "
                f"{coverage:.0%} of these reviews' words.",
                kind="explanation",
            )
            return vocab, str(store.weights_path(name))
        ctx.text(
            f"the stored {name!r} knows only {coverage:.1%} of these reviews' words (it is reused from "
            f"{threshold:.1%}): fine-tuning one here."
        )
    else:
        ctx.text(f"no {name!r} in the model store yet (run ulmfit-lm to make it): fine-tuning one here.")
    texts = reviews.lm_texts + reviews.valid_texts
    is_valid = [False] * len(reviews.lm_texts) + [True] * len(reviews.valid_texts)
    tuned = fine_tune_lm(ctx, texts, is_valid, lm_epochs, lr, bptt=48)
    return tuned.learn.vocab, str(store.weights_path(tuned.entry.name))


# ---- the review language model's experiments (ulmfit-lm, lr-find): held-out loss, covered words, probes ---


def pretrained_vocab(learn: LMLearner, pretrained: str | Path) -> list[str]:
    """The vocabulary a pretrained model (store file or fastai folder) was trained with."""
    return list(learn._read_pretrained(pretrained, None)[1])


def lm_text_loader(vocab: Vocab, texts: list[str], bs: int, bptt: int) -> LMDataLoader:
    """An unshuffled language-model loader over `texts` in `vocab` (held-out texts of any split)."""
    tokenizer = Tokenizer()
    ids = [vocab.numericalize(tokenizer(text)) for text in texts]
    n_tokens = sum(len(d) for d in ids)
    return LMDataLoader(ids, min(bs, max(1, n_tokens // 2)), bptt)


def lm_scores(learn: LMLearner, loader: LMDataLoader, covered: set[str] | None = None) -> dict[str, float]:
    """Loss per token (nats), perplexity and next-word accuracy of `learn` over `loader`; with `covered`
    (the words a pretrained vocab knows) also the same over the target tokens whose word is in it, and
    their share: a fair score for a model that never saw the other words."""
    import math

    import torch
    import torch.nn.functional as F

    model = learn.model
    was_training = model.training
    model.eval()
    model.reset()
    mask_of = None
    if covered is not None:
        mask_of = torch.tensor(
            [token in covered and token != "xxunk" for token in learn.vocab.itos], dtype=torch.bool
        )
    total = correct = n = 0.0
    c_total = c_correct = c_n = 0.0
    with torch.no_grad():
        for x, y in loader:
            logits = model(x.to(learn.device)).float().cpu()
            losses = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), reduction="none")
            hits = (logits.argmax(-1).reshape(-1) == y.reshape(-1)).float()
            total, correct, n = total + losses.sum().item(), correct + hits.sum().item(), n + losses.numel()
            if mask_of is not None:
                keep = mask_of[y.reshape(-1)]
                c_total += losses[keep].sum().item()
                c_correct += hits[keep].sum().item()
                c_n += keep.sum().item()
    model.reset()
    model.train(was_training)

    def exp(loss: float) -> float:  # a diverged model's loss can overflow math.exp
        return math.exp(loss) if loss < 700 else math.inf

    scores = {"loss": total / n, "perplexity": exp(total / n), "accuracy": correct / n}
    if mask_of is not None and c_n:
        scores.update(
            covered_loss=c_total / c_n,
            covered_perplexity=exp(c_total / c_n),
            covered_accuracy=c_correct / c_n,
            covered_share=c_n / n,
        )
    return scores


def encoder_features(learn: LMLearner, texts: list[str], max_len: int = 400, bs: int = 32) -> Tensor:
    """ULMFiT's concat pooling [last, max, mean] of the LM encoder's last layer over each text (its first
    `max_len` tokens), with the model in eval mode: what a classifier head on the frozen encoder sees."""
    import torch

    from engine.text.awd_lstm import masked_concat_pool

    tokenizer = Tokenizer()
    pad = learn.vocab.pad_index
    ids = [learn.vocab.numericalize(tokenizer(text))[:max_len] for text in texts]
    model = learn.model
    was_training = model.training
    model.eval()
    rows = []
    with torch.no_grad():
        for start in range(0, len(ids), bs):
            chunk = ids[start : start + bs]
            width = max(len(d) for d in chunk)
            words = torch.full((len(chunk), width), pad, dtype=torch.long)
            for i, doc in enumerate(chunk):
                words[i, : len(doc)] = torch.as_tensor(doc, dtype=torch.long)
            output, _ = model.encoder(words.to(learn.device))
            rows.append(masked_concat_pool(output.float(), (words == pad).to(learn.device)).cpu())
    model.train(was_training)
    return torch.cat(rows)


def probe_accuracy(
    train_x: Tensor, train_y: list[str], test_x: Tensor, test_y: list[str], steps: int = 300
) -> float:
    """The accuracy of `probe_correct`'s head on the test texts."""
    correct = probe_correct(train_x, train_y, test_x, test_y, steps)
    return sum(correct) / len(correct)


def probe_correct(
    train_x: Tensor, train_y: list[str], test_x: Tensor, test_y: list[str], steps: int = 300
) -> list[float]:
    """1.0 for each test text that a logistic-regression head, trained on frozen features (standardised
    on the training texts; L2 weight decay; full-batch L-BFGS, deterministic), classifies right, else
    0.0: the classifier's first stage in ULMFiT, with the encoder frozen."""
    import torch

    classes = sorted(set(train_y) | set(test_y))
    index = {c: i for i, c in enumerate(classes)}
    mean, std = train_x.mean(0), train_x.std(0).clamp(min=1e-6)
    xtr, xte = (train_x - mean) / std, (test_x - mean) / std
    ytr = torch.tensor([index[c] for c in train_y])
    yte = torch.tensor([index[c] for c in test_y])
    head = torch.nn.Linear(xtr.size(1), len(classes))
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    opt = torch.optim.LBFGS(head.parameters(), lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(head(xtr), ytr) + 1e-2 * head.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return (head(xte).argmax(-1) == yte).float().tolist()


def fit_lm_recipe(learn: LMLearner, epochs: int, lr: float, pretrained: bool) -> float:
    """The lesson's recipe for a pretrained LM: one frozen epoch at `lr` (new embeddings and decoder), then
    the rest unfrozen at lr/10; a model from scratch has nothing to protect: fit_one_cycle(epochs, lr).
    Returns the seconds it trained."""
    if epochs < 1:
        return 0.0
    started = time.perf_counter()
    if pretrained:
        learn.freeze()
        learn.fit_one_cycle(1, lr)
        learn.unfreeze()
        if epochs > 1:
            learn.fit_one_cycle(epochs - 1, lr / 10)
    else:
        learn.fit_one_cycle(epochs, lr)
    return time.perf_counter() - started


def save_fine_tuned(ctx: LabContext, learn: LMLearner, corpus: str, parent: str) -> ModelEntry:
    """Save a fine-tuned review LM as the store's `fine_tuned_enc` (encoder, LM and vocab) for the
    classifier labs, measured on its own validation texts."""
    store = store_of(ctx)
    name = sized_name(FINE_TUNED_ENC, sizes_of(ctx), LAB_SIZES)
    metrics = learn.validate()
    learn.save_encoder(store.weights_path(name), include_lm=True)
    return store.record(
        ModelEntry(
            name=name,
            kind="encoder",
            corpus=corpus,
            tokens_seen=0,
            config=sizes_of(ctx),
            vocab_size=len(learn.vocab),
            valid_perplexity=round(float(metrics["perplexity"]), 3),
            valid_accuracy=round(float(metrics["accuracy"]), 4),
            seed=ctx.seed,
            parent=parent,
        )
    )


GENERATED_SCALE = 6  # a generated review is about a tenth of a real one's length: more of them


@dataclass
class Split:
    """The run's one split: texts (and labels) of each part."""

    lm_texts: list[str]
    lm_labels: list[str]
    tune_texts: list[str]
    test_texts: list[str]
    test_labels: list[str]
    valid_texts: list[str]


def load_split(data: Path | None, lm: int, tune: int, test: int, valid: int, seed: int) -> tuple[Split, str]:
    """Real reviews (IMDB_SAMPLE's texts.csv, its folder, or an aclImdb folder) by their train/test flags,
    shuffled once with seed 0; else generated reviews (`seed`), six times as many."""
    if data is None:
        k = GENERATED_SCALE
        texts, labels = generate_review_corpus(k * (lm + tune) + k * (test + valid), seed=seed + 1)
        n_train = k * (lm + tune)
        train = list(range(n_train))
        held = list(range(n_train, len(texts)))
        lm, tune, test, valid = k * lm, k * tune, k * test, k * valid
        source = "generated movie reviews (the lab's review generator)"
    else:
        reviews = (
            read_imdb_folder(data)
            if data.is_dir() and not (data / "texts.csv").is_file()
            else read_imdb_csv(data)
        )
        texts, labels = reviews.texts, reviews.labels
        train = [i for i, v in enumerate(reviews.is_valid) if not v]
        held = [i for i, v in enumerate(reviews.is_valid) if v]
        rng = random.Random(0)
        rng.shuffle(train)
        rng.shuffle(held)
        if not held:  # no test flag in the file: hold out a fifth of it
            cut = max(2, len(train) // 5)
            held, train = train[:cut], train[cut:]
        source = str(data)
    lm_i, tune_i = train[:lm], train[lm : lm + tune]
    test_i, valid_i = held[:test], held[test : test + valid]
    if not (lm_i and tune_i and test_i and valid_i):
        raise ValueError(
            f"{source}: too few reviews for {lm}+{tune} training and {test}+{valid} test reviews"
        )
    split = Split(
        [texts[i] for i in lm_i],
        [labels[i] for i in lm_i],
        [texts[i] for i in tune_i],
        [texts[i] for i in test_i],
        [labels[i] for i in test_i],
        [texts[i] for i in valid_i],
    )
    return split, source


def review_effects(claimed: list[list[float]], rival: list[list[float]]) -> list[float]:
    """Per test review, the claimed arm's right/wrong minus the rival's, each averaged over the seeds
    (`claimed[s][i]`: seed s, review i): the unit of a verdict about test reviews, whose own sampling
    noise a spread between seeds on the same reviews cannot show."""
    n_seeds = len(claimed)
    return [(sum(a) - sum(b)) / n_seeds for a, b in zip(zip(*claimed), zip(*rival), strict=True)]
