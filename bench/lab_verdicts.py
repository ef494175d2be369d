"""Benchmark: a lab's verdict over independent runs, the way a student runs it.

    python bench/lab_verdicts.py --lab collab [--seeds 0,1,2,3,4] [--preset quick]
        [--data generated|NAME|PATH] [--home DIR] [--set KEY=VALUE ...]

Each run is `cardlab lab run LAB --preset P --seed S [--data D]` through the runner the CLI uses (every
run itself trains its own seeds S, S+1000, S+2000, ... when the lab has a `seeds` parameter, so runs with
different S are independent). Prints one line per run, then one JSON object: per run the data used, the
verdict (effect, threshold, seeds, minimum detectable effect, agrees), the wall time; and the count of
agrees / inconclusive / does not agree.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._openmp import sleeping_idle_threads  # noqa: E402

sleeping_idle_threads()  # before torch loads (see bench/_openmp.py)

from bench._lab_runs import run_lab, run_line, verdict_word  # noqa: E402
from cards.paths import Home  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lab", required=True)
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--data", default=None, help="generated, a dataset name or a path")
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    home = Home.at(args.home or tempfile.mkdtemp(prefix="cardlab-bench-")).ensure()
    runs = []
    for seed in (int(s) for s in args.seeds.split(",")):
        run = run_lab(args.lab, seed, home, args.preset, args.data, args.set)
        runs.append(run)
        print(run_line(run), flush=True)
    words = [verdict_word(r["verdict"]) for r in runs]
    counts = {word: words.count(word) for word in ("agrees", "inconclusive", "does_not_agree")}
    print(
        json.dumps(
            {"lab": args.lab, "preset": args.preset, "data": args.data, "counts": counts, "runs": runs}
        )
    )


if __name__ == "__main__":
    main()
