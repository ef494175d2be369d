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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from engine.callbacks.core import Callback
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
    lm_data,
    text_classifier_learner,
)
from engine.text.data import LMDataLoader
from engine.text.tokenizer import Tokenizer
from engine.text.vocab import Vocab
from labs._evidence import validate_by_batch
from labs.context import LabContext
from labs.labdir import param_group
from labs.model_store import FINE_TUNED_ENC, GENERAL_LM, ModelEntry, ModelStore, sized_name

if TYPE_CHECKING:
    from torch import Tensor

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

    `general-lm` is made here the first time it is needed, on real text (`pretrain_corpus`: WikiText when
    it is cached or given as a path), else on a generated corpus with its own words (never the reviews'
    generator), and the run says which. A cancelled pretraining leaves nothing behind.
    """
    choice = str(getattr(ctx.p, "pretrained", GENERAL_LM))
    store = store_of(ctx)
    if choice == "wt103-fwd" or Path(choice).is_dir():  # fastai's layout: converted on load
        folder = ctx.resolve_data(choice)
        return folder, f"a language model in fastai's layout ({choice}, {folder})"
    if choice != GENERAL_LM:
        store.get(choice)  # raises with the list of models and a did-you-mean
        return store.weights_path(choice), store.get(choice).describe()
    corpus = pretrain_corpus(ctx)
    name = sized_name(f"{GENERAL_LM}-{corpus.key}", _sizes(ctx), LAB_SIZES)
    entry = store.find(name)
    if entry is None:
        recipe = replace(PRETRAIN, docs=len(corpus.texts), epochs=ctx.p.pretrain_epochs)
        entry = pretrain_general(ctx, store, name, recipe, corpus.texts, corpus.describe, corpus.is_valid)
    ctx.text(
        f"pretrained on {'real text' if corpus.source == 'real' else 'GENERATED text (no WikiText cached)'}: "
        f"{entry.corpus}",
        kind="explanation",
    )
    return store.weights_path(name), entry.describe()


# ---- the pretraining corpus: WikiText when there is one, else generated text of its own --------------------

WIKITEXT_NAMES = ("wikitext-103", "wikitext-2")
_WIKI_FILES = {
    "train": ("wiki.train.tokens", "train.txt", "train.csv"),
    "valid": ("wiki.valid.tokens", "valid.txt", "valid.csv"),
    "test": ("wiki.test.tokens", "test.txt", "test.csv"),
}


@dataclass
class PretrainCorpus:
    texts: list[str]
    is_valid: list[bool]
    key: str  # part of the store name: the corpus a general LM was made on
    describe: str
    source: str  # "real" or "generated"


def wikitext_files(folder: Path) -> dict[str, Path]:
    """The WikiText splits in `folder` (whichever of train/valid/test exist, in any of the layouts:
    `wiki.*.tokens`, fastai's `train.csv`/`test.csv`, or `*.txt`)."""
    found: dict[str, Path] = {}
    for split, names in _WIKI_FILES.items():
        for name in names:
            if (folder / name).is_file():
                found[split] = folder / name
                break
    return found


def read_wikitext_any(path: Path) -> list[str]:
    """Articles of a WikiText file: `.tokens`/`.txt` (titles start articles) or fastai's csv (one per row)."""
    from engine.datasets.text import read_wikitext

    if path.suffix == ".csv":
        import csv

        with path.open(encoding="utf-8", newline="") as file:
            return [row[0].strip() for row in csv.reader(file) if row and row[0].strip()]
    return read_wikitext(path)


def wikitext_corpus(folder: Path, max_tokens: int) -> tuple[list[str], list[bool], str]:
    """Train and held-out articles of a WikiText folder: its train split when there is one (held out: its
    valid, else test split); with only valid/test (as a partial copy), every 20th article is held out.
    Training articles stop at about `max_tokens` words, held-out ones at a tenth of that."""
    files = wikitext_files(folder)
    if not files:
        raise FileNotFoundError(f"{folder}: no WikiText files (wiki.train.tokens, wiki.valid.tokens, ...)")
    if "train" in files:
        train = read_wikitext_any(files["train"])
        held_file = files.get("valid") or files.get("test")
        held = read_wikitext_any(held_file) if held_file else []
    else:
        articles = [
            a for split in ("valid", "test") if split in files for a in read_wikitext_any(files[split])
        ]
        held, train = articles[::20], [a for i, a in enumerate(articles) if i % 20]
    if not held:
        held, train = train[::20], [a for i, a in enumerate(train) if i % 20]
    train, held = _first_tokens(train, max_tokens), _first_tokens(held, max(max_tokens // 10, 1))
    words = sum(len(t.split()) for t in train)
    used = "+".join(sorted(files, key=list(_WIKI_FILES).index))
    describe = f"{folder.name} ({used}): {len(train)} articles, {words:,} words ({len(held)} held out)"
    return train + held, [False] * len(train) + [True] * len(held), describe


def _first_tokens(articles: list[str], max_tokens: int) -> list[str]:
    kept, total = [], 0
    for article in articles:
        if total >= max_tokens:
            break
        kept.append(article)
        total += len(article.split())
    return kept


def pretrain_corpus(ctx: LabContext) -> PretrainCorpus:
    """The general LM's corpus: `pretrain_corpus` = "wikitext" (the first cached of WikiText-103 and -2),
    a dataset name or path, or "generated" (also the offline fallback, said so in the run)."""
    from engine.datasets.fetch import dataset_path, is_fetched
    from engine.datasets.text import generate_plain_corpus

    value = str(getattr(ctx.p, "pretrain_corpus", "wikitext"))
    max_tokens = int(getattr(ctx.p, "pretrain_tokens", 500_000))
    folder: Path | None = None
    if value == "wikitext":
        cached = [name for name in WIKITEXT_NAMES if is_fetched(name, ctx.home)]
        folder = dataset_path(cached[0], ctx.home) if cached else None
        if folder is None:
            ctx.text(
                "No WikiText in the cache (`cardlab data fetch wikitext-2`, 4 MB, makes the next pretraining "
                "use it): the general language model is pretrained on GENERATED text instead.",
            )
    elif value != GENERATED_CORPUS:
        folder = ctx.resolve_data(value)
    if folder is not None:
        texts, is_valid, describe = wikitext_corpus(folder, max_tokens)
        return PretrainCorpus(texts, is_valid, f"{folder.name}-{max_tokens // 1000}k", describe, "real")
    docs = ctx.p.pretrain_docs
    texts = generate_plain_corpus(docs, seed=PRETRAIN.seed)
    describe = (
        f"{docs} GENERATED encyclopedia-like articles (invented towns, dates, buildings; their own words, "
        "none of the reviews' generator)"
    )
    return PretrainCorpus(
        texts, [i % 20 == 0 for i in range(docs)], f"generated-{docs}", describe, "generated"
    )


GENERATED_CORPUS = "generated"


class _Eta(Callback):
    """Measures the time of the first batches (after a warm-up) and predicts the whole fit from them."""

    order = 100

    def __init__(
        self, total_batches: int, report: Callable[[float, int], None], warmup: int = 3, probe: int = 12
    ):
        self.total, self.report, self.warmup, self.probe = total_batches, report, warmup, probe
        self.count, self.started, self.eta = 0, 0.0, 0.0
        self.fit_started = 0.0

    def before_fit(self) -> None:
        self.fit_started = time.perf_counter()

    def after_batch(self) -> None:
        if not self.learn.training:
            return
        self.count += 1
        if self.count == self.warmup:
            self.started = time.perf_counter()
        elif self.count == self.warmup + self.probe:
            per_batch = (time.perf_counter() - self.started) / self.probe
            elapsed = time.perf_counter() - self.fit_started
            self.eta = elapsed + per_batch * (self.total - self.count)
            self.report(self.eta, self.count)


def pretrain_general(
    ctx: LabContext,
    store: ModelStore,
    name: str,
    recipe: PretrainRecipe = PRETRAIN,
    texts: list[str] | None = None,
    corpus: str | None = None,
    is_valid: list[bool] | None = None,
) -> ModelEntry:
    """Pretrain a general language model once (on generated text of its own unless `texts` are given;
    `is_valid` marks a corpus's own held-out texts, else 5% are held out) and publish it in the store.
    The ETA is measured on the first batches of the fit itself; the entry keeps it beside the truth."""
    from engine.datasets.text import generate_plain_corpus

    if texts is None:
        texts = generate_plain_corpus(recipe.docs, seed=recipe.seed)
        corpus = f"{recipe.docs} GENERATED encyclopedia-like articles"
    data = lm_data(
        texts,
        bs=recipe.bs,
        bptt=recipe.bptt,
        valid_pct=0.05,
        seed=recipe.seed,
        is_valid=is_valid,
        max_vocab=recipe.max_vocab,
    )
    tokens = data.train.tokens_per_epoch * recipe.epochs
    ctx.text(
        f"Pretraining the general language model once ({corpus}; {tokens:,} tokens over {recipe.epochs} "
        f"epochs, vocab {len(data.vocab):,}); later labs reuse it from the model store. ETA: measuring "
        "the first batches...",
        kind="explanation",
    )
    valid_batches = len(data.valid) if data.valid is not None else 0
    # a validation batch costs about a third of a training one (no backward pass)
    total = recipe.epochs * (len(data.train) + valid_batches / 3)
    etas: list[float] = []

    def say_eta(eta: float, batches: int) -> None:
        etas.append(eta)
        ctx.text(
            f"ETA for the pretraining: about {eta / 60:.1f} min (measured over its first {batches} batches)"
        )

    ctx.curve("general LM (pretraining, once)")
    with ctx.seeded(recipe.seed):
        learn = watched_lm_learner(ctx, data, recipe.drop_mult)
        started = time.perf_counter()
        with learn.added_cbs([_Eta(round(total), say_eta)]):
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
        eta_seconds=round(etas[0], 1) if etas else 0.0,
    )
    store.record(entry)
    off = f"; the ETA said {etas[0]:.0f} s ({(etas[0] - seconds) / seconds:+.0%})" if etas else ""
    ctx.text(f"saved {entry.describe()} in {seconds:.0f} s{off}", kind="explanation")
    return entry


def wikitext_folder(data: Path | None) -> Path | None:
    """`data` when it is a WikiText folder (any of train/valid/test in a WikiText layout), else None."""
    return data if data is not None and data.is_dir() and wikitext_files(data) else None


def pretrain_on_wikitext(ctx: LabContext, folder: Path) -> tuple[Path, str]:
    """The lesson's first step: a language model pretrained on WikiText (once; then reused from the store).
    On GPUs (`--preset full --data wikitext-103`) the lesson's scale; on a CPU capped at `pretrain_tokens`."""
    store = store_of(ctx)
    on_gpu = ctx.device.startswith("cuda")
    max_tokens = 10**12 if on_gpu else int(getattr(ctx.p, "pretrain_tokens", 500_000))
    name = sized_name(f"{GENERAL_LM}-{folder.name}-{max_tokens // 1000}k", _sizes(ctx), LAB_SIZES)
    entry = store.find(name)
    if entry is None:
        texts, is_valid, corpus = wikitext_corpus(folder, max_tokens)
        processes = int(os.environ.get("WORLD_SIZE", "1") or 1)
        recipe = replace(
            PRETRAIN,
            docs=len(texts),
            epochs=ctx.p.pretrain_epochs,
            lr=WIKITEXT_LR if on_gpu else PRETRAIN.lr,
            bs=WIKITEXT_BS_PER_PROCESS * processes if on_gpu else PRETRAIN.bs,
            bptt=ctx.p.bptt if on_gpu else PRETRAIN.bptt,
        )
        entry = pretrain_general(ctx, store, name, recipe, texts, corpus, is_valid)
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


def encoder_for(
    ctx: LabContext,
    reviews: Reviews,
    lm_epochs: int,
    lr: float = 1e-2,
    min_coverage: float = MIN_VOCAB_COVERAGE,
    covered: Sequence[str] | None = None,
) -> tuple[Vocab, str]:
    """The store's `fine_tuned_enc` when its vocab covers at least `min_coverage` of the words of `covered`
    (default: the reviews' labelled and held-out texts), else one fine-tuned here (and stored for the next
    lab). Returns its vocab and the name to `load_encoder`."""
    import torch

    store = store_of(ctx)
    name = sized_name(FINE_TUNED_ENC, _sizes(ctx), LAB_SIZES)
    entry = store.find(name)
    if entry is not None:
        saved = torch.load(store.weights_path(name), map_location="cpu", weights_only=True)
        vocab = Vocab(saved["vocab"])
        texts = list(covered) if covered is not None else reviews.train_texts + reviews.valid_texts
        coverage = vocab_coverage(vocab, texts)
        if coverage >= min_coverage:
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


def fit_lm_recipe(learn: LMLearner, epochs: int, lr: float, pretrained: bool) -> None:
    """The lesson's recipe for a pretrained LM: one frozen epoch at `lr` (new embeddings and decoder), then
    the rest unfrozen at lr/10; a model from scratch has nothing to protect: fit_one_cycle(epochs, lr)."""
    if epochs < 1:
        return
    if not pretrained:
        learn.fit_one_cycle(epochs, lr)
        return
    learn.freeze()
    learn.fit_one_cycle(1, lr)
    learn.unfreeze()
    if epochs > 1:
        learn.fit_one_cycle(epochs - 1, lr / 10)


def save_fine_tuned(ctx: LabContext, learn: LMLearner, corpus: str, parent: str) -> ModelEntry:
    """Save a fine-tuned review LM as the store's `fine_tuned_enc` (encoder, LM and vocab) for the
    classifier labs, measured on its own validation texts."""
    store = store_of(ctx)
    name = sized_name(FINE_TUNED_ENC, _sizes(ctx), LAB_SIZES)
    metrics = learn.validate()
    learn.save_encoder(store.weights_path(name), include_lm=True)
    return store.record(
        ModelEntry(
            name=name,
            kind="encoder",
            corpus=corpus,
            tokens_seen=0,
            config=_sizes(ctx),
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
