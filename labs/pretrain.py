"""`cardlab models pretrain`: make a store language model on purpose, run like a lab (same runner, events,
progress with an ETA measured from the first batches, cancel), from WikiText (cached, or a folder holding
any of its train/valid/test files) or, offline, a generated corpus of its own (never the reviews')."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from labs.context import LabContext
from labs.info import LabInfo, Param, make_presets
from labs.labdir import param_group

GENERATED = "generated"
_SIZES, _PRETRAIN = param_group("ulmfit-sizes"), param_group("pretrain")

PRETRAIN_INFO = LabInfo(
    id="models-pretrain",
    title="Pretrain a language model for the model store",
    summary="A general language model, made once and kept in the model store for the ULMFiT labs.",
    card_ids=(),
    params=(
        Param(
            "corpus",
            "str",
            "wikitext",
            "wikitext (the first cached of wikitext-103, wikitext-2), generated, a dataset name or a path "
            "(a WikiText folder, a .tokens or .txt file, a folder of .txt files)",
        ),
        Param("name", "str", "general-lm", "the store name to save it under"),
        *_SIZES.params,
        # it makes one, not loads it; `corpus` says what from
        *(param for param in _PRETRAIN.params if param.name not in ("pretrained", "pretrain_corpus")),
    ),
    presets=make_presets(smoke={**_SIZES.presets["smoke"], **_PRETRAIN.presets["smoke"]}, full={}),
    question=None,
    module="labs.pretrain",
    steps=("corpus", "pretrain"),
)


def read_corpus(path: Path) -> list[str]:
    """Documents of a corpus: WikiText articles, or the paragraphs of text files."""
    from engine.datasets.text import read_wikitext

    files = [path] if path.is_file() else sorted(path.rglob("*.tokens")) or sorted(path.rglob("*.txt"))
    if not files:
        raise FileNotFoundError(f"no .tokens or .txt files in {path}")
    docs: list[str] = []
    for file in files:
        if file.suffix == ".tokens":
            docs += read_wikitext(file)
        else:
            text = file.read_text(encoding="utf-8", errors="replace")
            docs += [part.strip() for part in text.split("\n\n") if part.strip()]
    return docs


def run(ctx: LabContext) -> dict[str, object]:
    from labs._pretraining import pretrain_corpus, pretrain_general, wikitext_folder
    from labs._ulmfit import PRETRAIN, store_of

    p = ctx.p
    with ctx.stage("corpus"):
        texts = is_valid = None
        if p.corpus in ("wikitext", GENERATED) or wikitext_folder(ctx.resolve_data(p.corpus)) is not None:
            ctx.params["pretrain_corpus"] = p.corpus
            ctx.p.pretrain_corpus = p.corpus
            found = pretrain_corpus(ctx)
            texts, is_valid, corpus = found.texts, found.is_valid, found.describe
        else:
            path = ctx.resolve_data(p.corpus)
            texts = read_corpus(path)
            corpus = f"{len(texts)} documents of {path}"
        ctx.text(corpus)
    with ctx.stage("pretrain"):
        recipe = replace(PRETRAIN, docs=len(texts), epochs=p.pretrain_epochs)
        entry = pretrain_general(ctx, store_of(ctx), p.name, recipe, texts, corpus, is_valid)
    return {
        "model": entry.name,
        "valid_perplexity": entry.valid_perplexity,
        "seconds": entry.seconds,
        "eta_seconds": entry.eta_seconds,
    }
