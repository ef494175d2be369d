"""The language-model protocol bench/lm.py and bench/text.py share, so their figures stay comparable.

AWD-LSTM emb 200 / hid 400 / 2 layers (`AWDLSTMConfig.medium()`), bs 64, bptt 72, fit_one_cycle(epochs,
2e-2), drop_mult 0.3, seed 42; throughput counts bs x bptt tokens per training batch.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from typing import Any

import torch

from engine.distributed import all_reduce_sum, barrier, is_main_process, launched_distributed, setup
from engine.metrics import accuracy, perplexity
from engine.text import AWDLSTMConfig, LMLearner, TextDataLoaders, language_model_learner, lm_data
from engine.utils import set_seed

BS = 64
BPTT = 72
LR = 2e-2
SEED = 42


def add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="torch threads in each process")
    # More than one: the same command under torchrun, data-parallel (gloo on a CPU, see
    # engine.callbacks.distributed), the batch of BS rows split between the processes: the recipe is unchanged.
    parser.add_argument("--procs", type=int, default=1, help="training processes (default 1)")
    parser.add_argument("--mixed-precision", default="auto", choices=["auto", "fp32", "bf16"])
    # The model's initialisation and batch order; the validation split stays SEED's, so seeds compare.
    parser.add_argument("--seed", type=int, default=SEED)


def start(args: argparse.Namespace) -> None:
    """Threads and seed first, before any data is read, as every reference run did. With --procs N > 1
    outside torchrun, runs this same command as N torchrun processes instead and exits with their code;
    inside, joins the group and leaves the printing to rank 0."""
    if args.procs > 1 and not launched_distributed():
        sys.exit(run_under_torchrun(args.procs, args.threads))
    if launched_distributed():
        setup()
        if not is_main_process():
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (for the life of the process)
    torch.set_num_threads(args.threads)
    set_seed(args.seed)


def torchrun_command(procs: int, argv: list[str]) -> list[str]:
    """This interpreter running `argv` (a script and its arguments) as `procs` torchrun processes."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        str(procs),
        *argv,
    ]


def run_under_torchrun(procs: int, threads: int) -> int:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    return subprocess.run(torchrun_command(procs, sys.argv), env=env, check=False).returncode


def summed_over_processes(values: dict[str, float]) -> dict[str, float]:
    """Each value summed over the processes of a distributed run (the values themselves in one process)."""
    return {name: round(total, 2) for name, total in zip(values, all_reduce_sum(list(values.values())))}


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


def lstm_layer_sizes(config: AWDLSTMConfig) -> list[tuple[int, int]]:
    """(input, hidden) of each AWD-LSTM layer: emb -> n_hid ... -> emb (the last layer returns to emb_sz)."""
    sizes = []
    for layer in range(config.n_layers):
        inputs = config.emb_sz if layer == 0 else config.n_hid
        hidden = config.emb_sz if layer == config.n_layers - 1 else config.n_hid
        sizes.append((inputs, hidden))
    return sizes


def train_flops_per_token(config: AWDLSTMConfig, vocab: int) -> float:
    """Multiply-adds x 2 of one training token (forward, and backward at twice the forward): each LSTM
    layer's four gates (input and recurrent weights) and the decoder onto the vocabulary. Embedding
    lookups, dropout masks and the softmax are left out (memory-bound, a few percent)."""
    forward = sum(2 * 4 * hidden * (inputs + hidden) for inputs, hidden in lstm_layer_sizes(config))
    forward += 2 * config.emb_sz * vocab
    return 3.0 * forward


def matmul_peak(
    config: AWDLSTMConfig, vocab: int, dtype: torch.dtype = torch.float32, repeats: int = 20
) -> dict[str, float]:
    """GFLOP/s of torch.mm in `dtype` (the one the step computes in: bf16 under mixed precision), at this
    machine's threads, on the step's own shapes: the recurrent product of one time step (bs x hidden @
    hidden x 4 hidden), the input product of a whole bptt window, and the decoder's three GEMMs (forward,
    input gradient, weight gradient; inner size emb + 2, the bias folded in: see
    engine.text.awd_lstm.biased_logits). "best" is the fastest of them, the peak we compare with; each is
    the best of `repeats` runs. A busy machine lowers it too (415 GFLOP/s bf16 at load 2, 205 at load 3.7)."""
    inputs, hidden = lstm_layer_sizes(config)[0]
    tokens, emb = BS * BPTT, config.emb_sz + 2
    shapes = {
        "recurrent": (BS, hidden, 4 * hidden),
        "input_window": (tokens, inputs, 4 * hidden),
        "decoder": (tokens, emb, vocab),
        "decoder_grad_input": (tokens, vocab, emb),
        "decoder_grad_weight": (vocab, tokens, emb),
    }
    result: dict[str, float] = {}
    barrier()  # the processes of a distributed run measure together, as they train
    for name, (m, k, n) in shapes.items():
        a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
        torch.mm(a, b)  # warm-up
        best = float("inf")
        for _ in range(repeats):
            began = time.perf_counter()
            torch.mm(a, b)
            best = min(best, time.perf_counter() - began)
        result[name] = round(2 * m * k * n / best / 1e9, 2)
    result["best"] = max(result.values())
    return summed_over_processes(result)
