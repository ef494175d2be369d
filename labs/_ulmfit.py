"""What the three ULMFiT labs share: the corpora, the language-model steps, and layer-group tables."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from engine.datasets.text import (
    generate_general_corpus,
    generate_review_corpus,
    read_imdb_csv,
    read_imdb_folder,
    read_imdb_unsup,
)
from engine.learner import Learner
from engine.metrics import accuracy, perplexity
from engine.optim import lr_ladder
from engine.text import AWDLSTMConfig, LMLearner, TextDataLoaders, language_model_learner, lm_data
from labs.context import LabContext

RATIO = 2.6
CHANCE_MARGIN = 0.6  # two balanced classes: below this a classifier has learned next to nothing


@dataclass
class Corpora:
    general: list[str]  # pretraining texts (the lesson: WikiText-103)
    texts: list[str]  # labelled reviews
    labels: list[str]
    is_valid: list[bool]  # the labelled reviews held out for validation
    unlabelled: list[str] = field(
        default_factory=list
    )  # reviews without labels (IMDb's unsup, and test texts)
    source: str = ""

    def lm_texts(self, use_all_text: bool) -> tuple[list[str], list[bool]]:
        """Texts for fine-tuning the LM, and which are its validation: the held-out labelled reviews.

        With `use_all_text` (the lesson's trick) the unlabelled reviews join the training texts: a language
        model needs no labels, so every review the student has is training data for it.
        """
        train = [t for t, v in zip(self.texts, self.is_valid) if not v]
        held_out = [t for t, v in zip(self.texts, self.is_valid) if v]
        if use_all_text:
            train = train + self.unlabelled
        return train + held_out, [False] * len(train) + [True] * len(held_out)


def load_corpora(
    data: Path | None, general_docs: int, review_docs: int, seed: int, real_docs: int | None = None
) -> Corpora:
    """Generated corpora, or real reviews (IMDB_SAMPLE texts.csv or an aclImdb folder) with a generated
    general corpus (WikiText-103 is too big for a CPU lab).

    `review_docs` counts generated reviews; `real_docs` (default: `review_docs`) caps the reviews read from
    `data`, a sample of them, because a real review is about ten times longer than a generated one.
    """
    general = generate_general_corpus(general_docs, seed=seed)
    if data is None:
        texts, labels = generate_review_corpus(review_docs + review_docs // 2, seed=seed + 1)
        labelled, unlabelled = texts[:review_docs], texts[review_docs:]
        flags = _holdout(len(labelled), 0.2, seed)
        source = f"{general_docs} generated general documents, {review_docs} generated labelled reviews, {len(unlabelled)} unlabelled"
        return Corpora(general, labelled, labels[:review_docs], flags, unlabelled, source)
    if data.is_dir() and not (data / "texts.csv").is_file():
        reviews = read_imdb_folder(data)
        try:
            unlabelled = read_imdb_unsup(data)
        except FileNotFoundError:
            unlabelled = []
    else:
        reviews = read_imdb_csv(data)
        unlabelled = []
    n_docs = review_docs if real_docs is None else real_docs
    texts, labels, flags = _sample(reviews.texts, reviews.labels, reviews.is_valid, n_docs, seed)
    if not any(flags):
        flags = _holdout(len(texts), 0.2, seed)
    unlabelled = unlabelled[: n_docs // 2]
    source = f"{len(texts)} reviews from {data} ({sum(flags)} held out), {len(unlabelled)} unlabelled, {general_docs} generated general documents"
    return Corpora(general, texts, labels, flags, unlabelled, source)


def _holdout(n: int, pct: float, seed: int) -> list[bool]:
    chosen = set(random.Random(seed).sample(range(n), max(1, round(n * pct))))
    return [i in chosen for i in range(n)]


def _sample(
    texts: list[str], labels: list[str], flags: list[bool], n: int, seed: int
) -> tuple[list[str], list[str], list[bool]]:
    if len(texts) <= n:
        return list(texts), list(labels), list(flags)
    keep = sorted(random.Random(seed).sample(range(len(texts)), n))
    return [texts[i] for i in keep], [labels[i] for i in keep], [flags[i] for i in keep]


def config_of(ctx: LabContext) -> AWDLSTMConfig:
    p = ctx.p
    return AWDLSTMConfig(emb_sz=p.emb_sz, n_hid=p.n_hid, n_layers=p.n_layers)


def watched_lm_learner(
    ctx: LabContext, data: TextDataLoaders, drop_mult: float, pretrained: str | None = None
) -> LMLearner:
    """A language-model learner of the lab's size and metrics, reporting to the lab as it trains."""
    return ctx.watch(
        language_model_learner(
            data,
            config=config_of(ctx),
            drop_mult=drop_mult,
            metrics=[accuracy, perplexity],
            pretrained=pretrained,
            device=ctx.device,
            path=ctx.work_dir,
        )
    )


def pretrain(
    ctx: LabContext, corpora: Corpora, epochs: int, lr: float, bptt: int, drop_mult: float = 0.3
) -> LMLearner:
    """Step 1: a language model on the general corpus, saved as `general` for the next step."""
    ctx.curve("general LM")
    data = lm_data(corpora.general, bs=ctx.p.bs, bptt=bptt, valid_pct=0.1, seed=ctx.seed)
    learn = watched_lm_learner(ctx, data, drop_mult)
    if epochs:
        learn.fit_one_cycle(epochs, lr)
    learn.save_pretrained("general")
    return learn


def fine_tune_lm(ctx: LabContext, corpora: Corpora, epochs: int, lr: float, bptt: int, use_all_text: bool = True,
                 drop_mult: float = 0.3) -> tuple[LMLearner, dict[str, float]]:  # fmt: skip
    """Step 2: the general LM fine-tuned on the reviews; returns (learner, metrics before fine-tuning)."""
    ctx.curve("review LM")
    texts, is_valid = corpora.lm_texts(use_all_text)
    data = lm_data(texts, bs=ctx.p.bs, bptt=bptt, is_valid=is_valid, seed=ctx.seed)
    learn = watched_lm_learner(ctx, data, drop_mult, pretrained="general")
    before = learn.validate()
    if epochs:
        learn.freeze()  # first the embeddings of the new words and the decoder, as the lesson does
        learn.fit_one_cycle(1, lr)
        learn.unfreeze()
        if epochs > 1:
            learn.fit_one_cycle(epochs - 1, lr / 10)
    learn.save_encoder("fine_tuned_enc")
    return learn, before


def group_names(n_groups: int) -> list[str]:
    """Names of a classifier's layer groups: embedding, each LSTM layer, the head."""
    return ["embedding", *(f"LSTM {i}" for i in range(1, n_groups - 1)), "head"]


def groups_table(learn: Learner, lr: float | slice) -> list[list[str]]:
    """One row per layer group: does it train, and at which learning rate."""
    groups = learn.layer_groups
    lrs = lr_ladder(lr, len(groups))
    rows = []
    for name, group, group_lr in zip(group_names(len(groups)), groups, lrs):
        trains = any(p.requires_grad for p in group)
        rows.append([name, "trains" if trains else "frozen", f"{group_lr:.2e}" if trains else "—"])
    return rows


def ladder(lr: float, n_groups: int, ratio: float = RATIO) -> slice:
    """`slice(lr / ratio**(n-1), lr)`: each group's rate `ratio` times below the next one's (the lesson's
    `slice(lr/2.6**4, lr)` on its five groups)."""
    return slice(lr / ratio ** (n_groups - 1), lr)
