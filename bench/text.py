"""Benchmark: ULMFiT without pretrained weights (language model, then classifier). Last line: one JSON object.

    python bench/text.py --data PATH [--epochs 2] [--threads 2] [--procs 1] [--mixed-precision auto|fp32|bf16]
        [--lm-only]

PATH is IMDB_SAMPLE's `texts.csv` (or its folder) or an `aclImdb` folder (train + test, no unsup). Without
`--data`, the generated review corpus (engine.datasets.text.generate_review_corpus, 1,000 reviews).
Protocol (as ../shared/reference/fastai_text.py): AWD-LSTM emb 200 / hid 400 / 2 layers; LM on all texts
with 10% random validation (seed 42), bs 64, bptt 72, fit_one_cycle(2, 2e-2), drop_mult 0.3, moms
(0.8, 0.7, 0.8); then the classifier on that encoder (loaded and frozen, as fastai's load_encoder does), bs 32,
fit_one_cycle(2, 2e-2), drop_mult 0.5, classifier dropouts, validation = the `is_valid` rows / the test set.
JSON keys: tokenize_s, vocab, lm_train_s, lm_tokens_per_s, lm_valid_loss, lm_valid_acc, lm_valid_ppl,
clas_train_s, clas_valid_acc, total_s (+ n_texts, lm_tokens, mixed_precision, threads, procs, openmp: the
OpenMP wait setting, see bench/_openmp.py), and the LM's arithmetic: lm_train_mflop_per_token (LSTM gates +
decoder, forward and backward), lm_achieved_gflops (training tokens at that, validation tokens at a third of
it, over lm_train_s), matmul_dtype (bfloat16 under mixed precision), matmul_gflops (torch.mm in that dtype on
the step's own shapes: recurrent, input window, the decoder's forward and two gradients, best) and
lm_peak_share (achieved over the best matmul rate).
`--lm-only` stops after the language model (the clas_* keys are then absent).
lm_train_cpu_s: CPU seconds of the LM fit (all threads); load_1m: the 1-minute load average before and after it.
`--procs N` trains on N torchrun processes of `--threads` threads each (data-parallel, the 64 rows of a batch
split between them; rank 0 prints): lm_train_cpu_s and matmul_gflops are then sums over the processes (which
measure the peak together), and procs says N.
lm_tokens_per_s = bs x bptt tokens per training batch, summed over the epochs, over lm_train_s (which, like
fastai's figure, includes the validation passes).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

T0 = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._openmp import openmp_setting, sleeping_idle_threads  # noqa: E402

sleeping_idle_threads()  # before torch loads: libgomp reads the setting then (see bench/_openmp.py)

import torch  # noqa: E402

from bench._lm_protocol import (  # noqa: E402
    LR,
    add_run_options,
    fit_lm,
    matmul_peak,
    start,
    timed_lm_data,
    train_flops_per_token,
)
from engine.callbacks.mixed_precision import resolve_precision  # noqa: E402
from engine.datasets.text import TextSet, generate_review_corpus, read_imdb_csv, read_imdb_folder  # noqa: E402
from engine.distributed import all_reduce_sum  # noqa: E402
from engine.metrics import accuracy  # noqa: E402
from engine.text import (  # noqa: E402
    AWDLSTMConfig,
    TextDataLoaders,
    Vocab,
    clas_data,
    text_classifier_learner,
)


def valid_tokens(data: TextDataLoaders, epochs: int) -> int:
    """Tokens the validation passes read (one pass an epoch)."""
    return 0 if data.valid is None else epochs * data.valid.tokens_per_epoch


def load(data: str | None) -> TextSet:
    if data is None:
        texts, labels = generate_review_corpus(1000, seed=0)
        return TextSet(texts, labels, [i >= 800 for i in range(len(texts))])
    path = Path(data)
    if path.suffix == ".csv" or (path / "texts.csv").exists():
        return read_imdb_csv(path)
    return read_imdb_folder(path)


def fit_classifier(dataset: TextSet, vocab: Vocab, args: argparse.Namespace, models: Path) -> dict:
    """The classifier on the saved encoder (`models`/enc): its clas_* keys."""
    data_clas = clas_data(dataset.texts, dataset.labels, vocab=vocab, bs=32, is_valid=dataset.is_valid)
    clas = text_classifier_learner(
        data_clas,
        config=AWDLSTMConfig.medium(),
        drop_mult=0.5,
        metrics=[accuracy],
        path=models,
        mixed_precision=args.mixed_precision,
    )
    clas.load_encoder("enc")
    t_clas = time.perf_counter()
    clas.fit_one_cycle(args.epochs, LR)
    clas_train_s = time.perf_counter() - t_clas
    clas_row = clas.recorder.rows[-1]
    print(f"clas {clas_row} clas_train_s {clas_train_s:.1f}", flush=True)
    return {"clas_train_s": round(clas_train_s, 2), "clas_valid_acc": round(clas_row["accuracy"], 4)}


def peak_share(
    vocab: int, train_tokens: int, valid_tokens: int, train_s: float, args: argparse.Namespace
) -> dict:
    """The LM's achieved FLOP/s (training tokens at forward + backward, validation tokens at forward only,
    over the fit's wall seconds) against this machine's measured matmul peak on the step's shapes, in the
    dtype the step computes in."""
    config = AWDLSTMConfig.medium()
    train_flops = train_flops_per_token(config, vocab)
    flops = train_tokens * train_flops + valid_tokens * train_flops / 3
    dtype = resolve_precision(args.mixed_precision, torch.device("cpu")) or torch.float32
    peak = matmul_peak(config, vocab, dtype)
    achieved = flops / train_s / 1e9
    return {
        "lm_train_mflop_per_token": round(train_flops / 1e6, 3),
        "lm_achieved_gflops": round(achieved, 2),
        "matmul_dtype": str(dtype).removeprefix("torch."),
        "matmul_gflops": peak,
        "lm_peak_share": round(achieved / peak["best"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="texts.csv, its folder, or an aclImdb folder")
    parser.add_argument("--lm-only", action="store_true", help="stop after the language model")
    add_run_options(parser)
    args = parser.parse_args()
    start(args)
    dataset = load(args.data)
    models = Path(tempfile.mkdtemp(prefix="bench-text-"))

    data_lm, tokenize_s = timed_lm_data(dataset.texts, valid_pct=0.1)
    print(
        f"tokenize_s {tokenize_s:.2f} vocab {len(data_lm.vocab)} tokens {data_lm.train.n_tokens}", flush=True
    )

    cpu_before, load_before = os.times(), os.getloadavg()[0]
    lm, lm_train_s, lm_tokens = fit_lm(data_lm, args.epochs, args.mixed_precision, path=models)
    cpu_after, load_after = os.times(), os.getloadavg()[0]
    (lm_cpu_s,) = all_reduce_sum([cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system])
    lm_row = lm.recorder.rows[-1]
    print(f"lm {lm_row} lm_train_s {lm_train_s:.1f}", flush=True)
    result = {
        "tokenize_s": round(tokenize_s, 3),
        "seed": args.seed,
        "vocab": len(data_lm.vocab),
        "lm_train_s": round(lm_train_s, 2),
        "lm_tokens_per_s": round(lm_tokens / lm_train_s, 1),
        # CPU seconds of the fit (all threads) and the 1-minute load before and after: on a shared machine
        # the wall time says as much about the neighbours as about the step
        "lm_train_cpu_s": round(lm_cpu_s, 1),
        "load_1m": [round(load_before, 2), round(load_after, 2)],
        "lm_valid_loss": round(lm_row["valid_loss"], 4),
        "lm_valid_acc": round(lm_row["accuracy"], 4),
        "lm_valid_ppl": round(lm_row["perplexity"], 2),
        **peak_share(
            len(data_lm.vocab),
            lm_tokens,
            valid_tokens(data_lm, args.epochs),
            lm_train_s,
            args,
        ),
    }
    if not args.lm_only:
        lm.save_encoder("enc")
        result.update(fit_classifier(dataset, data_lm.vocab, args, models))
    result.update(
        {
            "total_s": round(time.perf_counter() - T0, 2),
            "n_texts": len(dataset),
            "lm_tokens": lm_tokens,
            "mixed_precision": args.mixed_precision,
            "threads": args.threads,
            "procs": args.procs,
            "openmp": openmp_setting(),
        }
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
