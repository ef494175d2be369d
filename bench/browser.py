"""Card browser at scale: a 100,000-card pack with 1,000,000 review rows (bench/_scale_data.py).

Measures, in the real app run headless (Textual's pilot, 120x40): the time from pressing `b` on the home
screen to the browser showing its first rows, the first time (the loaded cards are copied into the
store connection's TEMP table) and again (index kept); median of --runs fresh apps. Then `cards.query`
alone on the warm index: each query of QUERIES, wall and CPU time, median of --repeat runs. Goals: the
browser opens in < 1 s, `tag:x is:due prop:r<0.8` answers in < 200 ms. Prints one JSON object last.

    .venv/bin/python bench/browser.py [--cards 100000] [--reviews 1000000] [--runs 3] [--repeat 7] [--home DIR]

--home reuses a home made by an earlier run (kept with --keep DIR) instead of generating one (~1-2 min).
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
from cards.config import Config  # noqa: E402
from cards.discover import discover_packs  # noqa: E402
from cards.paths import Home  # noqa: E402
from cards.query import search  # noqa: E402
from cards.store import Store  # noqa: E402
from cards.study_day import utc_now  # noqa: E402

GOALS = {"browser_open_s": 1.0, "query_ms": 200.0}
TARGET_QUERY = "tag:group-3 is:due prop:r<0.8"  # the issue's `tag:x is:due prop:r<0.8` on a tag that exists
QUERIES = (
    "",
    TARGET_QUERY,
    "tag:x is:due prop:r<0.8",
    "is:due",
    "prop:lapses>=3",
    '"what is 4242"',
    "is:suspended or is:buried",
    "-is:new prop:ivl>30",
)
ROW_LIMIT = 200  # what the browser shows (tui.screens.browser.ROW_LIMIT)


async def open_browser_twice(home: Home) -> tuple[tuple[float, float], tuple[float, float], int]:
    """((wall, CPU) seconds to the first rows on the first `b`, the same on a second `b`, rows shown) in one
    fresh app. CPU is this process's time (the app runs in it), which a busy machine stretches less."""
    from tui.app import create_app
    from tui.screens.browser import BrowserScreen

    app = create_app(home)
    timings = []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        for _ in range(2):
            started, cpu = time.perf_counter(), time.process_time()
            await pilot.press("b")
            while not (isinstance(app.screen, BrowserScreen) and app.screen.rows):
                await asyncio.sleep(0.001)
            await pilot.pause()  # painted
            timings.append((time.perf_counter() - started, time.process_time() - cpu))
            rows = len(app.screen.rows)
            await pilot.press("escape")
            await pilot.pause()
    return timings[0], timings[1], rows


def time_queries(home: Home, repeat: int) -> dict[str, dict[str, float]]:
    packs, _ = discover_packs(home)
    now = utc_now()
    results = {}
    with Store.open(home.store_path) as store:
        started, cpu = time.perf_counter(), time.process_time()
        search(store, packs, "", now, Config(), limit=ROW_LIMIT)
        results["(first search: builds the index)"] = {
            "wall_ms": round((time.perf_counter() - started) * 1000, 1),
            "cpu_ms": round((time.process_time() - cpu) * 1000, 1),
        }
        for text in QUERIES:
            walls, cpus = [], []
            for _ in range(repeat):
                wall, cpu = time.perf_counter(), time.process_time()
                result = search(store, packs, text, now, Config(), limit=ROW_LIMIT)
                walls.append((time.perf_counter() - wall) * 1000)
                cpus.append((time.process_time() - cpu) * 1000)
            results[text] = {
                "matches": result.total,
                "wall_ms": round(statistics.median(walls), 1),
                "cpu_ms": round(statistics.median(cpus), 1),
            }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=100_000)
    parser.add_argument("--reviews", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--home", type=Path, help="reuse the scale home in this folder")
    parser.add_argument("--keep", type=Path, help="generate the scale home into this folder and keep it")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cardlab-browser-") as scratch:
        folder = args.home or args.keep or Path(scratch)
        generate_s = None
        if args.home is None:
            started = time.perf_counter()
            make_scale_home(folder, args.cards, args.reviews)
            generate_s = round(time.perf_counter() - started, 1)
        home = Home.at(folder)
        discover_packs(home)  # writes the validated-pack cache, as the app's first start does
        opens = [asyncio.run(open_browser_twice(home)) for _ in range(args.runs)]
        queries = time_queries(home, args.repeat)

    def median(values: list[float]) -> float:
        return round(statistics.median(values), 3)

    target = queries[TARGET_QUERY]
    print(
        json.dumps(
            {
                "bench": "browser",
                "cards": args.cards,
                "review_rows": args.reviews,
                "generate_s": generate_s,
                "browser_open_first_s": median([first[0] for first, _, _ in opens]),
                "browser_open_first_cpu_s": median([first[1] for first, _, _ in opens]),
                "browser_open_first_runs_s": [round(first[0], 3) for first, _, _ in opens],
                "browser_open_again_s": median([again[0] for _, again, _ in opens]),
                "browser_open_again_cpu_s": median([again[1] for _, again, _ in opens]),
                "rows_shown": opens[0][2],
                "browser_open_goal_s": GOALS["browser_open_s"],
                "target_query": TARGET_QUERY,
                "target_query_wall_ms": target["wall_ms"],
                "target_query_cpu_ms": target["cpu_ms"],
                "query_goal_ms": GOALS["query_ms"],
                "queries": queries,
            }
        )
    )


if __name__ == "__main__":
    main()
