"""The language-model protocol bench/lm.py and bench/text.py share, so their figures stay comparable.

AWD-LSTM emb 200 / hid 400 / 2 layers (`AWDLSTMConfig.medium()`), bs 64, bptt 72, fit_one_cycle(epochs,
2e-2), drop_mult 0.3, seed 42; throughput counts bs x bptt tokens per training batch.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch

from engine.metrics import accuracy, perplexity
from engine.text import AWDLSTMConfig, LMLearner, TextDataLoaders, language_model_learner, lm_data
from engine.utils import set_seed

BS = 64
BPTT = 72
LR = 2e-2
SEED = 42


def add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mixed-precision", default="auto", choices=["auto", "fp32", "bf16"])


def start(args: argparse.Namespace) -> None:
    """Threads and seed first, before any data is read, as every reference run did."""
    torch.set_num_threads(args.threads)
    set_seed(SEED)


def timed_lm_data(texts: list[str], **split: Any) -> tuple[TextDataLoaders, float]:
    """Tokenised language-model data (`split`: valid_pct or is_valid) and the seconds tokenising took."""
    began = time.perf_counter()
    data = lm_data(texts, bs=BS, bptt=BPTT, seed=SEED, **split)
    return data, time.perf_counter() - began


def fit_lm(
    data: TextDataLoaders, epochs: int, mixed_precision: str, **learner_kwargs: Any
) -> tuple[LMLearner, float, int]:
    """Train the benchmark language model; returns (learner, training seconds, tokens trained on)."""
    learn = language_model_learner(
        data,
        config=AWDLSTMConfig.medium(),
        drop_mult=0.3,
        metrics=[accuracy, perplexity],
        mixed_precision=mixed_precision,
        **learner_kwargs,
    )
    began = time.perf_counter()
    learn.fit_one_cycle(epochs, LR)
    train_s = time.perf_counter() - began
    return learn, train_s, epochs * len(data.train) * BS * BPTT
