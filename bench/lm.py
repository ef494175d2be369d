"""Benchmark: an AWD-LSTM language model on plain-text corpora. Last line of output: one JSON object.

    python bench/lm.py --train FILE --valid FILE [--epochs 2] [--threads 2] [--procs 1]
        [--mixed-precision auto|fp32|bf16]

FILEs are WikiText `.tokens` files (split into articles) or plain text (split into paragraphs at blank
lines; PTB style one-sentence-per-line files become one document per line). Same config as bench/text.py:
emb 200 / hid 400 / 2 layers, bs 64, bptt 72, fit_one_cycle(2, 2e-2), drop_mult 0.3, vocab from the
training file (min_freq 3). JSON keys: valid_ppl, valid_acc, valid_loss, train_s, tokens_per_s
(+ vocab, train_tokens, tokenize_s, mixed_precision, threads, procs, openmp). `--procs N`: N data-parallel
torchrun processes, as in bench/text.py.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._openmp import openmp_setting, sleeping_idle_threads  # noqa: E402

sleeping_idle_threads()  # before torch loads: libgomp reads the setting then (see bench/_openmp.py)

from bench._lm_protocol import add_run_options, fit_lm, start, timed_lm_data  # noqa: E402
from engine.datasets.text import read_wikitext  # noqa: E402


def read_corpus(path: Path) -> list[str]:
    if path.suffix == ".tokens":
        return read_wikitext(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    if len(paragraphs) < 2:  # one sentence per line (PTB)
        paragraphs = [line.strip() for line in text.splitlines() if line.strip()]
    return paragraphs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", required=True, type=Path)
    parser.add_argument("--valid", required=True, type=Path)
    add_run_options(parser)
    args = parser.parse_args()
    start(args)
    train, valid = read_corpus(args.train), read_corpus(args.valid)

    data, tokenize_s = timed_lm_data(train + valid, is_valid=[False] * len(train) + [True] * len(valid))
    print(
        f"tokenize_s {tokenize_s:.2f} vocab {len(data.vocab)} train tokens {data.train.n_tokens}", flush=True
    )

    learn, train_s, tokens = fit_lm(data, args.epochs, args.mixed_precision)
    row = learn.recorder.rows[-1]
    result = {
        "valid_ppl": round(row["perplexity"], 2),
        "valid_acc": round(row["accuracy"], 4),
        "valid_loss": round(row["valid_loss"], 4),
        "train_s": round(train_s, 2),
        "tokens_per_s": round(tokens / train_s, 1),
        "vocab": len(data.vocab),
        "train_tokens": data.train.n_tokens,
        "tokenize_s": round(tokenize_s, 3),
        "mixed_precision": args.mixed_precision,
        "threads": args.threads,
        "procs": args.procs,
        "openmp": openmp_setting(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
