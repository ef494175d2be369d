"""Per-step overhead of engine's Learner.fit over a bare hand-written PyTorch loop (CPU).

Model: an embedding dot product with biases (the lesson's collab model), batch 64, synthetic ratings.
Both loops use the same TensorLoader, the same fused AdamW and the same number of steps; timings alternate
between the two and keep the best of several rounds, measured as this thread's CPU time (torch runs with
one thread). The last line printed is one JSON object.

    python bench/engine_overhead.py [--steps 1000] [--rounds 15]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import DataLoaders, Learner, TensorLoader, set_seed  # noqa: E402
from engine.optim import OptimizerLike, adamw  # noqa: E402


class DotProductBias(nn.Module):
    def __init__(
        self, n_users: int, n_items: int, n_factors: int = 50, y_range: tuple[float, float] = (0, 5.5)
    ):
        super().__init__()
        self.user_factors, self.item_factors = (
            nn.Embedding(n_users, n_factors),
            nn.Embedding(n_items, n_factors),
        )
        self.user_bias, self.item_bias = nn.Embedding(n_users, 1), nn.Embedding(n_items, 1)
        self.y_range = y_range

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        dot = (self.user_factors(users) * self.item_factors(items)).sum(dim=1)
        raw = dot + self.user_bias(users).squeeze(1) + self.item_bias(items).squeeze(1)
        low, high = self.y_range
        return torch.sigmoid(raw) * (high - low) + low


def make_data(n: int, n_users: int = 944, n_items: int = 1683) -> tuple[Tensor, Tensor, Tensor]:
    users = torch.randint(0, n_users, (n,))
    items = torch.randint(0, n_items, (n,))
    ratings = torch.randint(1, 6, (n,)).float()
    return users, items, ratings


def bare_loop(model: nn.Module, dl: TensorLoader, opt: OptimizerLike) -> None:
    model.train()
    for users, items, ratings in dl:
        loss = F.mse_loss(model(users, items), ratings)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)


def timed(fn, device: torch.device) -> float:
    """On CPU, this thread's CPU time: with one torch thread all the work runs here, and the figure is far
    less disturbed by other processes on a shared machine than wall time. On a GPU, synchronized wall time."""
    if device.type == "cpu":
        start = time.thread_time()
        fn()
        return time.thread_time() - start
    torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    torch.cuda.synchronize(device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="training steps per timed run")
    parser.add_argument("--rounds", type=int, default=15, help="alternating timed rounds (best kept)")
    parser.add_argument("--bs", type=int, default=64)
    parser.add_argument("--device", default="cpu", help="cpu (the goal's setting) or cuda")
    args = parser.parse_args()
    device = torch.device(args.device)

    torch.set_num_threads(1)  # the per-step Python overhead is what we measure, not thread scaling
    set_seed(0)
    users, items, ratings = make_data(args.steps * args.bs)
    dl = TensorLoader(users, items, ratings, batch_size=args.bs, shuffle=True).to(device)

    bare_model = DotProductBias(944, 1683).to(device)
    bare_opt = adamw([list(bare_model.parameters())], lr=5e-3, wd=0.01)
    learn = Learner(DotProductBias(944, 1683), DataLoaders(dl), F.mse_loss, lr=5e-3, wd=0.01, device=device)

    bare_loop(bare_model, dl, bare_opt)  # warm-up both
    learn.fit(1)
    bare, learner = [], []
    for _ in range(args.rounds):
        bare.append(timed(lambda: bare_loop(bare_model, dl, bare_opt), device))
        learner.append(timed(lambda: learn.fit(1), device))
    steps = len(dl)
    bare_us, learner_us = min(bare) / steps * 1e6, min(learner) / steps * 1e6
    result = {
        "learner_step_us": round(learner_us, 2),
        "bare_step_us": round(bare_us, 2),
        "overhead_pct": round(100 * (learner_us / bare_us - 1), 2),
        "steps": steps,
        "rounds": args.rounds,
        "batch_size": args.bs,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": str(device),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
