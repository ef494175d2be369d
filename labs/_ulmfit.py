"""What the ULMFiT labs share: the model sizes and store, the review corpora, the language-model learner, the
classifier on a fine-tuned encoder, and layer-group tables. The general LM's pretraining is
`labs._pretraining`; fine-tuning on the reviews and the review LM's experiments are `labs._review_lm`.

The lesson never pretrains inside a notebook: it starts from a model pretrained once on WikiText-103,
fine-tunes it on the reviews, saves the encoder, and the classifier notebook loads that encoder. The labs
do the same with the model store (`labs.model_store`):

    general-lm       pretrained once (on WikiText when cached, else a generated corpus of its own words)
    fine_tuned_enc   written by `ulmfit-lm` (or by a classifier lab that found none fitting its data),
                     loaded by `ulmfit-classifier` and `discriminative-lr` with `load_encoder`
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from engine.datasets.text import (
    generate_review_corpus,
    read_imdb_csv,
    read_imdb_folder,
)
from engine.learner import Learner
from engine.metrics import accuracy, perplexity
from engine.optim import lr_ladder
from engine.text import (
    AWDLSTMConfig,
    LMLearner,
    TextClassifierLearner,
    TextDataLoaders,
    language_model_learner,
    text_classifier_learner,
)
from engine.text.tokenizer import Tokenizer
from engine.text.vocab import Vocab
from labs.context import LabContext
from labs.labdir import param_group
from labs.model_store import ModelStore

RATIO = 2.6
LAB_EMBED_INIT = 1.0  # see AWDLSTMConfig.embed_init: the labs' small model learns sentiment with it
_UNLABELLED_SEED = 10_000  # offset of the unlabelled reviews' generator seed
LAB_SIZES = {param.name: param.default for param in param_group("ulmfit-sizes").params}
MIN_VOCAB_COVERAGE = 0.95  # an encoder whose vocab covers less of the data's words is not reused


@dataclass(frozen=True)
class PretrainRecipe:
    """How the default general language model is made (once): on WikiText's articles (or, offline, generated
    ones), sized to take at most 5 minutes on two CPU cores; its ETA is measured from its first batches."""

    docs: int = 6000
    epochs: int = 3
    lr: float = 1e-2
    bs: int = 64
    bptt: int = 48
    drop_mult: float = 0.1
    seed: int = 0  # fixed: one general model for every lab and seed, as WikiText-103 is one corpus
    max_vocab: int = 12_000  # the general LM's vocabulary (WikiText has ~33k words; the softmax is the cost)


PRETRAIN = PretrainRecipe()

# Pretraining on all of WikiText on GPUs (`ulmfit-lm --preset full --data wikitext-103`): every process
# reads 64 rows of 70 tokens per step (the global batch grows with the processes, as the lesson's bs=64 per
# GPU). Its ETA, like the CPU one, is measured from the first batches.
WIKITEXT_BS_PER_PROCESS = 64
WIKITEXT_LR = 1e-2


def config_of(ctx: LabContext) -> AWDLSTMConfig:
    p = ctx.p
    return AWDLSTMConfig(emb_sz=p.emb_sz, n_hid=p.n_hid, n_layers=p.n_layers, embed_init=LAB_EMBED_INIT)


def sizes_of(ctx: LabContext) -> dict[str, int]:
    return {"emb_sz": ctx.p.emb_sz, "n_hid": ctx.p.n_hid, "n_layers": ctx.p.n_layers}


def store_of(ctx: LabContext) -> ModelStore:
    return ModelStore.for_home(ctx.home)


# ---- corpora ---------------------------------------------------------------------------------------------


@dataclass
class Reviews:
    """Labelled reviews for a classifier (`train` few, `valid` many) and texts for the review LM."""

    train_texts: list[str]
    train_labels: list[str]
    valid_texts: list[str]
    valid_labels: list[str]
    lm_texts: list[str] = field(default_factory=list)  # reviews without labels, for fine-tuning the LM
    source: str = ""

    def clas_inputs(self) -> tuple[list[str], list[str], list[bool]]:
        texts = self.train_texts + self.valid_texts
        labels = self.train_labels + self.valid_labels
        return texts, labels, [False] * len(self.train_texts) + [True] * len(self.valid_texts)


def load_reviews(data: Path | None, labels: int, valid_docs: int, lm_docs: int, seed: int) -> Reviews:
    """Generated reviews (from `seed`), or real ones from `data` (IMDB_SAMPLE's texts.csv or an aclImdb
    folder): `labels` labelled training reviews, `valid_docs` held out, `lm_docs` for the review LM."""
    if data is None:
        # Labelled and unlabelled reviews from separate streams: a seed names the same labelled reviews
        # however many unlabelled ones a lab asks for.
        texts, tags = generate_review_corpus(labels + valid_docs, seed=seed + 1)
        unlabelled = generate_review_corpus(lm_docs, seed=seed + _UNLABELLED_SEED)[0] if lm_docs else []
        source = (
            f"{labels} labelled training reviews, {valid_docs} held-out reviews and {lm_docs} reviews "
            f"without labels, all generated (seed {seed})"
        )
        return Reviews(texts[:labels], tags[:labels], texts[labels:], tags[labels:], unlabelled, source)
    reviews = (
        read_imdb_folder(data)
        if data.is_dir() and not (data / "texts.csv").is_file()
        else read_imdb_csv(data)
    )
    rng = random.Random(seed)
    train = [i for i, v in enumerate(reviews.is_valid) if not v]
    valid = [i for i, v in enumerate(reviews.is_valid) if v]
    if not valid:  # no split in the file: hold out a fifth
        rng.shuffle(train)
        cut = max(1, len(train) // 5)
        valid, train = train[:cut], train[cut:]
    rng.shuffle(train)
    rng.shuffle(valid)
    chosen, valid = train[:labels], valid[:valid_docs]
    lm = train[labels : labels + lm_docs] + chosen
    source = f"{len(chosen)} labelled training reviews and {len(valid)} held-out reviews from {data}"
    return Reviews(
        [reviews.texts[i] for i in chosen],
        [reviews.labels[i] for i in chosen],
        [reviews.texts[i] for i in valid],
        [reviews.labels[i] for i in valid],
        [reviews.texts[i] for i in lm],
        source,
    )


# ---- the model store chain -------------------------------------------------------------------------------


def watched_lm_learner(
    ctx: LabContext, data: TextDataLoaders, drop_mult: float, pretrained: str | Path | None = None
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


def vocab_coverage(vocab: Vocab, texts: list[str]) -> float:
    """The share of the texts' words (special tokens aside) that the vocab knows."""
    tokenizer = Tokenizer()
    known = total = 0
    for text in texts:
        for token in tokenizer(text):
            if not token.startswith("xx"):
                total += 1
                known += token in vocab.stoi
    return known / total if total else 1.0


def classifier_with_encoder(ctx: LabContext, data: TextDataLoaders, encoder: str) -> TextClassifierLearner:
    """A text classifier of the lab's sizes with the fine-tuned `encoder` loaded (the vocabularies must
    match; loading also freezes it), its training streamed to the lab's chart."""
    learn = text_classifier_learner(
        data,
        config=config_of(ctx),
        drop_mult=ctx.p.drop_mult,
        metrics=[accuracy],
        device=ctx.device,
        path=ctx.work_dir,
    )
    learn.load_encoder(encoder)
    return ctx.watch(learn)


# ---- tables ----------------------------------------------------------------------------------------------


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


def describe_lr(lr: float | slice) -> str:
    if isinstance(lr, slice):
        return f"slice({lr.start:.1e}, {lr.stop:.1e})"
    return f"{lr:g}"


def fit_showing_groups(
    ctx: LabContext, learn: Learner, epochs: int, lr: float | slice, before: str, after: str = ""
) -> None:
    """Show which layer groups train and at which rate ("`before`fit_one_cycle(epochs, lr)`after`"), then
    fit: the table is what the card's freeze_to / discriminative-rate claim is about."""
    ctx.table(
        f"{before}fit_one_cycle({epochs}, {describe_lr(lr)}){after}",
        ["layer group", "", "learning rate"],
        groups_table(learn, lr),
    )
    learn.fit_one_cycle(epochs, lr)


def seed_table(
    seeds: list[int], columns: list[str], rows: list[list[float]]
) -> tuple[list[str], list[list[str]]]:
    """Per-seed rows plus the mean and the standard error of each column."""
    from labs.verdict import standard_error

    table = [[str(seed), *(f"{v:.3f}" for v in row)] for seed, row in zip(seeds, rows)]
    if len(rows) > 1:
        means = [sum(col) / len(col) for col in zip(*rows)]
        errors = [standard_error(list(col)) for col in zip(*rows)]
        table.append(["mean ± se", *(f"{m:.3f} ± {e:.3f}" for m, e in zip(means, errors))])
    return ["seed", *columns], table
