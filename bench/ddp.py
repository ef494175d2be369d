"""Benchmark: language-model training throughput on 1 and N processes (torchrun, data-parallel). Last line: one
JSON object.

    python bench/ddp.py [--nproc 1,2] [--device cpu|cuda] [--config small|medium|lesson] [--steps 60]

Each setting is a fresh `torchrun --standalone --nproc-per-node N` of this file in worker mode. Every process
keeps the same batch (`--bs-per-process` rows x bptt 72: weak scaling, as one adds GPUs), on the generated
general corpus (offline, deterministic), AWD-LSTM `--config` with drop_mult 0.3, fp32 on CPU (bf16 autocast
on GPU, as the labs use it). Timed after `--warmup` steps; tokens/s counts every process's tokens.
On CPU each process gets `--threads` threads (default 1); `--same-cores` adds a 1-process run with N threads,
the "same cores" baseline (slow on a busy machine: idle OpenMP threads hand work off badly). On CUDA a
1-process CPU run (all cores) is added for the 1 GPU vs CPU figure. JSON: tokens_per_s per setting
("NxT": N processes x T threads) and scaling_efficiency = tokens/s at N / (N x tokens/s at 1), plus the
machine (cores, GPUs) the figures came from.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BPTT = 72


def worker(args: argparse.Namespace) -> None:
    import torch

    from engine.callbacks.core import Callback, CancelFitException
    from engine.datasets.text import generate_general_corpus
    from engine.distributed import is_main_process, world_size
    from engine.text import AWDLSTMConfig, language_model_learner, lm_data
    from engine.utils import set_seed

    torch.set_num_threads(args.threads)
    set_seed(42)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    texts = generate_general_corpus(args.docs, seed=0)
    data = lm_data(texts, bs=args.bs_per_process * world, bptt=BPTT, valid_pct=0.01, seed=0)
    data.valid = None  # training throughput only: no validation pass inside the timed steps
    config = getattr(AWDLSTMConfig, args.config)()
    precision = "bf16" if args.device == "cuda" else None
    learn = language_model_learner(data, config, drop_mult=0.3, mixed_precision=precision, device=args.device)

    class Clock(Callback):
        """Starts the clock after the warm-up steps, stops the fit after `steps` timed ones."""

        def after_batch(self) -> None:
            step = self.learn.train_iter + 1
            if step == args.warmup:
                _sync(args.device)
                self.began = time.perf_counter()
            if step == args.warmup + args.steps:
                _sync(args.device)
                self.seconds = time.perf_counter() - self.began
                raise CancelFitException

    clock = Clock()
    learn.fit(100, 1e-3, cbs=[clock])
    if is_main_process():
        tokens = args.steps * args.bs_per_process * BPTT * world_size()
        print(
            json.dumps({"tokens_per_s": round(tokens / clock.seconds, 1), "seconds": round(clock.seconds, 2)})
        )


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def launch(nproc: int, threads: int, args: argparse.Namespace) -> dict[str, float]:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc)]
    command += [__file__, "--worker", "--threads", str(threads), "--device", args.device]
    command += ["--config", args.config, "--steps", str(args.steps), "--warmup", str(args.warmup)]
    command += ["--bs-per-process", str(args.bs_per_process), "--docs", str(args.docs)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        sys.exit(f"torchrun with {nproc} processes failed:\n{done.stderr[-3000:]}")
    result = json.loads(lines[-1])
    print(f"{nproc} process(es) x {threads} thread(s) on {args.device}: {result}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nproc", default="1,2", help="process counts to compare (default 1,2)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--config", default="small", choices=["small", "medium", "lesson"])
    parser.add_argument("--steps", type=int, default=60, help="timed training steps")
    parser.add_argument("--warmup", type=int, default=5, help="steps before the clock starts")
    parser.add_argument("--bs-per-process", type=int, default=32)
    parser.add_argument("--docs", type=int, default=4000, help="generated documents in the corpus")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per CPU process")
    parser.add_argument("--same-cores", action="store_true", help="add 1 process x N threads on CPU")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    counts = [int(n) for n in args.nproc.split(",")]
    runs = {f"{n}x{args.threads}": launch(n, args.threads, args) for n in counts}
    base = runs[f"1x{args.threads}"]["tokens_per_s"]
    top = max(counts)
    result: dict[str, object] = {
        "device": args.device,
        "config": args.config,
        "bs_per_process": args.bs_per_process,
        "bptt": BPTT,
        "tokens_per_s": {key: run["tokens_per_s"] for key, run in runs.items()},
        "scaling_efficiency": {
            str(n): round(runs[f"{n}x{args.threads}"]["tokens_per_s"] / (n * base), 3)
            for n in counts
            if n > 1
        },
        "cpu_cores": os.cpu_count(),
    }
    if args.device == "cpu" and top > 1 and args.same_cores:  # one process on the cores N processes used
        same = launch(1, top * args.threads, args)
        result["tokens_per_s"][f"1x{top * args.threads}"] = same["tokens_per_s"]  # type: ignore[index]
        result["speedup_vs_one_process_same_cores"] = round(
            runs[f"{top}x{args.threads}"]["tokens_per_s"] / same["tokens_per_s"], 3
        )
    if args.device == "cuda":
        import torch

        result["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        cpu = launch(1, os.cpu_count() or 1, argparse.Namespace(**{**vars(args), "device": "cpu"}))
        result["cpu_1_process_tokens_per_s"] = cpu["tokens_per_s"]
        result["one_gpu_vs_cpu"] = round(base / cpu["tokens_per_s"], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
