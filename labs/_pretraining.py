"""The general language model's pretraining: WikiText when it is cached (or given), else a generated corpus
with words and rules of its own (never the reviews' generator); an ETA measured on the first batches; the
model kept in the store as `general-lm-<corpus>`. `pretrained_lm` is where every ULMFiT lab starts."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from engine.callbacks.core import Callback
from engine.text import lm_data
from labs._ulmfit import (
    LAB_SIZES,
    PRETRAIN,
    WIKITEXT_BS_PER_PROCESS,
    WIKITEXT_LR,
    PretrainRecipe,
    sizes_of,
    store_of,
    watched_lm_learner,
)
from labs.context import LabContext
from labs.model_store import GENERAL_LM, ModelEntry, ModelStore, sized_name


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
    name = sized_name(f"{GENERAL_LM}-{corpus.key}", sizes_of(ctx), LAB_SIZES)
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
        config=sizes_of(ctx),
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
    name = sized_name(f"{GENERAL_LM}-{folder.name}-{max_tokens // 1000}k", sizes_of(ctx), LAB_SIZES)
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
