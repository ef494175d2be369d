"""The stats screen on a large history: how soon it opens, and how long its worker takes.

Builds the scale home of bench/study_scale.py (a pack of `--cards` cards, `--reviews` review rows), opens
the app headless and presses `s`. `screen_drawn_s`: until the screen has been drawn with its counts
(computed on the UI thread), which is when it starts its worker; `screen_idle_s`: until the app is idle
after that (Textual's pilot); `worker_done_s`: until the worker's child process has counted retention by
month, scored every answer (calibration) and simulated the workload curve. On a machine with few cores
the child competes with the app for CPU, which `screen_idle_s` shows. Medians of `--repeats` openings.
Prints one JSON object as its last line.

    .venv/bin/python bench/stats_screen.py [--cards 20000] [--reviews 200000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._scale_data import make_scale_home  # noqa: E402
from tui.app import create_app  # noqa: E402
from tui.screens.stats import StatsScreen  # noqa: E402


async def open_once(home) -> tuple[float, float, float]:
    app = create_app(home)
    drawn: list[float] = []
    start_worker = StatsScreen._compute_memory_stats

    def timed_start(screen: StatsScreen) -> object:
        drawn.append(time.perf_counter())
        return start_worker(screen)

    StatsScreen._compute_memory_stats = timed_start  # type: ignore[method-assign]
    try:
        async with app.run_test(size=(120, 60)) as pilot:
            await pilot.pause()
            started = time.perf_counter()
            await pilot.press("s")
            await pilot.pause()
            assert isinstance(app.screen, StatsScreen)
            idle = time.perf_counter() - started
            await app.workers.wait_for_complete()
            await pilot.pause()
            return drawn[0] - started, idle, time.perf_counter() - started
    finally:
        StatsScreen._compute_memory_stats = start_worker  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=20_000)
    parser.add_argument("--reviews", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cardlab-stats-") as folder:
        scale = make_scale_home(folder, args.cards, args.reviews)
        runs = [asyncio.run(open_once(scale.home)) for _ in range(args.repeats)]
    print(
        json.dumps(
            {
                "bench": "stats_screen",
                "cards": args.cards,
                "review_rows": args.reviews,
                "screen_drawn_s": round(statistics.median(run[0] for run in runs), 3),
                "screen_idle_s": round(statistics.median(run[1] for run in runs), 3),
                "worker_done_s": round(statistics.median(run[2] for run in runs), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
