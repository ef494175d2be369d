"""What the three ULMFiT labs share: the model store chain, the corpora, and layer-group tables.

The lesson never pretrains inside a notebook: it starts from a model pretrained once on WikiText-103,
fine-tunes it on the reviews, saves the encoder, and the classifier notebook loads that encoder. The labs
do the same with the model store (`labs.model_store`):

    general-lm       pretrained once on the generated general corpus, the first time a lab needs it
    fine_tuned_enc   written by `ulmfit-lm` (or by a classifier lab that found none fitting its data),
                     loaded by `ulmfit-classifier` and `discriminative-lr` with `load_encoder`
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from engine.datasets.text import (
    generate_general_corpus,
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
    lm_data,
    text_classifier_learner,
)
from engine.text.tokenizer import Tokenizer
from engine.text.vocab import Vocab
from labs._evidence import validate_by_batch
from labs.context import LabContext
from labs.labdir import param_group
from labs.model_store import FINE_TUNED_ENC, GENERAL_LM, ModelEntry, ModelStore, sized_name

RATIO = 2.6
LAB_EMBED_INIT = 1.0  # see AWDLSTMConfig.embed_init: the labs' small model learns sentiment with it
_UNLABELLED_SEED = 10_000  # offset of the unlabelled reviews' generator seed
LAB_SIZES = {param.name: param.default for param in param_group("ulmfit-sizes").params}
MIN_VOCAB_COVERAGE = 0.95  # an encoder whose vocab covers less of the data's words is not reused


@dataclass(frozen=True)
class PretrainRecipe:
    """How the default general language model is made (once): measured to take about a minute on
    two CPU cores, and to give features in which a head alone separates the generated reviews."""

    docs: int = 6000
    epochs: int = 8
    lr: float = 5e-3
    bs: int = 32
    bptt: int = 48
    drop_mult: float = 0.1
    seed: int = 0  # fixed: one general model for every lab and seed, as WikiText-103 is one corpus
    tokens_per_second: float = 60_000.0  # measured on 2 CPU cores at the labs' size, for the ETA
    where: str = "on two CPU cores"  # what tokens_per_second is for, in the ETA's words


PRETRAIN = PretrainRecipe()

# Pretraining on WikiText (`ulmfit-lm --data wikitext-103`), sized for GPUs: every process reads 64 rows
# of 70 tokens per step (the global batch grows with the processes, as the lesson's bs=64 per GPU). The
# ETA assumes 25k tokens/s per GPU for the lesson's 400/1152/3 AWD-LSTM in bf16 (an assumption, not a
# measurement: bench/ddp.py --device cuda measures it) and 85% scaling: WikiText-103's 103M tokens x 10
# epochs take 1.03e9 / (8 x 25k x 0.85) = 6,060 s, about 1.7 h on 8 GPUs (11.4 h on one).
WIKITEXT_BS_PER_PROCESS = 64
WIKITEXT_LR = 1e-2
GPU_TOKENS_PER_SECOND = 25_000.0
SCALING = 0.85


def config_of(ctx: LabContext) -> AWDLSTMConfig:
    p = ctx.p
    return AWDLSTMConfig(emb_sz=p.emb_sz, n_hid=p.n_hid, n_layers=p.n_layers, embed_init=LAB_EMBED_INIT)


def _sizes(ctx: LabContext) -> dict[str, int]:
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


def pretrained_lm(ctx: LabContext) -> tuple[str | Path, str]:
    """What `language_model_learner(pretrained=...)` should start from, and how to say so.

    The store's general model is made here the first time it is needed; a cancelled pretraining leaves
    nothing behind, so the next lab simply starts it over.
    """
    choice = str(getattr(ctx.p, "pretrained", GENERAL_LM))
    store = store_of(ctx)
    if choice == "wt103-fwd" or Path(choice).is_dir():  # fastai's layout: converted on load
        folder = ctx.resolve_data(choice)
        return folder, f"a language model in fastai's layout ({choice}, {folder})"
    name = sized_name(choice, _sizes(ctx), LAB_SIZES) if choice == GENERAL_LM else choice
    entry = store.find(name)
    if entry is None and choice != GENERAL_LM:
        store.get(name)  # raises with the list of models and a did-you-mean
    if entry is None:
        recipe = replace(PRETRAIN, docs=ctx.p.pretrain_docs, epochs=ctx.p.pretrain_epochs)
        entry = pretrain_general(ctx, store, name, recipe)
    return store.weights_path(name), entry.describe()


def pretrain_general(
    ctx: LabContext,
    store: ModelStore,
    name: str,
    recipe: PretrainRecipe = PRETRAIN,
    texts: list[str] | None = None,
    corpus: str | None = None,
    is_valid: list[bool] | None = None,
) -> ModelEntry:
    """Pretrain a general language model once (on generated stories unless `texts` are given; `is_valid`
    marks a corpus's own validation texts, else 5% are held out) and publish it in the store."""
    if texts is None:
        texts = generate_general_corpus(recipe.docs, seed=recipe.seed)
        corpus = f"{recipe.docs} generated general stories"
    data = lm_data(texts, bs=recipe.bs, bptt=recipe.bptt, valid_pct=0.05, seed=recipe.seed, is_valid=is_valid)
    tokens = data.train.tokens_per_epoch * recipe.epochs
    minutes = tokens / recipe.tokens_per_second / 60
    ctx.text(
        f"Pretraining the general language model once: about {max(minutes, 0.1):.1f} min {recipe.where} "
        f"({corpus}, {recipe.epochs} epochs); later labs reuse it from the model store.",
        kind="explanation",
    )
    ctx.curve("general LM (pretraining, once)")
    with ctx.seeded(recipe.seed):
        learn = watched_lm_learner(ctx, data, recipe.drop_mult)
        started = time.perf_counter()
        learn.fit_one_cycle(recipe.epochs, recipe.lr)
        seconds = time.perf_counter() - started
    metrics = learn.validate()
    learn.save_pretrained(store.weights_path(name))
    entry = ModelEntry(
        name=name,
        kind="language model",
        corpus=str(corpus),
        tokens_seen=tokens,
        config=_sizes(ctx),
        vocab_size=len(learn.vocab),
        valid_perplexity=round(float(metrics["perplexity"]), 3),
        valid_accuracy=round(float(metrics["accuracy"]), 4),
        seed=recipe.seed,
        seconds=round(seconds, 1),
    )
    store.record(entry)
    ctx.text(f"saved {entry.describe()} in {seconds:.0f} s", kind="explanation")
    return entry


def wikitext_folder(data: Path | None) -> Path | None:
    """`data` when it is a WikiText corpus (`cardlab data fetch wikitext-103`): a folder with wiki.train.tokens."""
    return data if data is not None and (data / "wiki.train.tokens").is_file() else None


def pretrain_on_wikitext(ctx: LabContext, folder: Path) -> tuple[Path, str]:
    """The lesson's first step: a language model pretrained on WikiText (once; then reused from the store)."""
    from engine.datasets.text import read_wikitext

    store = store_of(ctx)
    name = sized_name(f"general-lm-{folder.name}", _sizes(ctx), LAB_SIZES)
    entry = store.find(name)
    if entry is None:
        train = read_wikitext(folder / "wiki.train.tokens")
        valid_file = folder / "wiki.valid.tokens"
        valid = read_wikitext(valid_file) if valid_file.is_file() else []
        processes = int(os.environ.get("WORLD_SIZE", "1") or 1)
        on_gpu = ctx.device.startswith("cuda")
        recipe = replace(
            PRETRAIN,
            docs=len(train),
            epochs=ctx.p.pretrain_epochs,
            lr=WIKITEXT_LR,
            bs=WIKITEXT_BS_PER_PROCESS * processes,
            bptt=ctx.p.bptt,
            tokens_per_second=GPU_TOKENS_PER_SECOND * processes * (SCALING if processes > 1 else 1.0)
            if on_gpu
            else PRETRAIN.tokens_per_second,
            where=f"on {processes} GPU(s), assuming 25k tokens/s each" if on_gpu else PRETRAIN.where,
        )
        corpus = f"{folder.name}: {len(train)} articles ({len(valid)} held out)"
        texts, is_valid = train + valid, [False] * len(train) + [True] * len(valid)
        entry = pretrain_general(ctx, store, name, recipe, texts, corpus, is_valid if valid else None)
    return store.weights_path(name), entry.describe()


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
    if epochs:
        learn.freeze()  # first the embeddings of the new words and the decoder, as the lesson does
        learn.fit_one_cycle(1, lr)
        learn.unfreeze()
        if epochs > 1:
            learn.fit_one_cycle(epochs - 1, lr / 10)
    after, after_losses = validate_by_batch(learn)
    store = store_of(ctx)
    name = sized_name(FINE_TUNED_ENC, _sizes(ctx), LAB_SIZES)
    learn.save_encoder(store.weights_path(name), include_lm=True)
    entry = store.record(
        ModelEntry(
            name=name,
            kind="encoder",
            corpus=f"{len(texts)} {corpus}",
            tokens_seen=data.train.tokens_per_epoch * epochs,
            config=_sizes(ctx),
            vocab_size=len(learn.vocab),
            valid_perplexity=round(float(after["perplexity"]), 3),
            valid_accuracy=round(float(after["accuracy"]), 4),
            seed=ctx.seed,
            parent=str(pretrained),
        )
    )
    ctx.artifact(f"save_encoder('{name}') in the model store", store.weights_path(name))
    return FineTuned(learn, before, before_losses, after, after_losses, entry)


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


def encoder_for(ctx: LabContext, reviews: Reviews, lm_epochs: int, lr: float = 1e-2) -> tuple[Vocab, str]:
    """The store's `fine_tuned_enc` when its vocab fits these reviews, else one fine-tuned here (and
    stored for the next lab). Returns its vocab and the name to `load_encoder`."""
    import torch

    store = store_of(ctx)
    name = sized_name(FINE_TUNED_ENC, _sizes(ctx), LAB_SIZES)
    entry = store.find(name)
    if entry is not None:
        saved = torch.load(store.weights_path(name), map_location="cpu", weights_only=True)
        vocab = Vocab(saved["vocab"])
        coverage = vocab_coverage(vocab, reviews.train_texts + reviews.valid_texts)
        if coverage >= MIN_VOCAB_COVERAGE:
            ctx.text(
                f"load_encoder('{name}'): {entry.describe()}, made by an earlier lab; its vocab covers "
                f"{coverage:.0%} of these reviews' words.",
                kind="explanation",
            )
            return vocab, str(store.weights_path(name))
        ctx.text(
            f"the stored {name!r} knows only {coverage:.0%} of these reviews' words: fine-tuning one here."
        )
    else:
        ctx.text(f"no {name!r} in the model store yet (run ulmfit-lm to make it): fine-tuning one here.")
    texts = reviews.lm_texts + reviews.valid_texts
    is_valid = [False] * len(reviews.lm_texts) + [True] * len(reviews.valid_texts)
    tuned = fine_tune_lm(ctx, texts, is_valid, lm_epochs, lr, bptt=48)
    return tuned.learn.vocab, str(store.weights_path(tuned.entry.name))


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
