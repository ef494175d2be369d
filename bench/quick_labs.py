"""Benchmark: the labs' quick presets as a student meets them, one home, in the lessons' order.

    python bench/quick_labs.py [--labs all|ID,ID,...] [--seeds 0] [--preset quick] [--datasets DIR]
        [--home DIR]

Each run is `cardlab lab run LAB --preset P --seed S [--data D]` through the runner the CLI uses, on one home
(default: a new temporary one), labs in their listing order. So on a fresh home the first ULMFiT lab
pretrains the general language model, and a later one reuses it or fine-tunes its own review LM when the
stored one does not fit its reviews, as a student's labs would: each run lists the models it added to the
store and their training seconds. `--datasets DIR`: for each lab, the first folder of DIR holding real data
of the lab's shape (fast.ai's layout: imdb_sample/texts.csv, adult_sample/adult.csv,
movie_lens_sample/ratings.csv); without it (or for a lab DIR has nothing for) each lab uses its default,
the cache's real data or else generated data. Every run says which data it used.
Prints a line per run, then one JSON object: per run the lab, seed, wall seconds, data, models made and
verdict; the slowest run's seconds; the count of agrees / inconclusive / does not agree; the cores a lab's
fits may share and `CARDLAB_LAB_HELPERS` (set it to 0 to time every fit in the lab's own process).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._openmp import sleeping_idle_threads  # noqa: E402

sleeping_idle_threads()  # before torch loads (see bench/_openmp.py)

from bench._lab_runs import run_lab, run_line, verdict_word  # noqa: E402
from cards.paths import Home  # noqa: E402
from labs.errors import LabError  # noqa: E402
from labs.fork_pool import HELPERS_ENV, usable_cores  # noqa: E402
from labs.model_store import ModelStore  # noqa: E402
from labs.registry import all_labs, get_lab  # noqa: E402


def dataset_for(lab_id: str, datasets: Path | None) -> str | None:
    """The first folder of `datasets` holding the lab's CSV (or its folder files) in a shape the lab
    accepts, or None (the lab's default)."""
    shape = get_lab(lab_id).data_shape
    if datasets is None or shape is None:
        return None
    for folder in sorted(p for p in datasets.iterdir() if p.is_dir()):
        holds_csv = shape.csv_name is not None and (folder / shape.csv_name).is_file()
        holds_files = bool(shape.folder_files) and all((folder / f).is_file() for f in shape.folder_files)
        if not (holds_csv or holds_files):
            continue
        try:
            shape.check(folder)
        except LabError:
            continue
        return str(folder)
    return None


def stored_models(store: ModelStore) -> dict[str, tuple[str, float]]:
    return {entry.name: (entry.created, entry.seconds) for entry in store.list()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labs", default="all", help="all, or lab ids separated by commas")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--datasets", type=Path, default=None, help="a folder of dataset folders")
    parser.add_argument("--home", type=Path, default=None)
    args = parser.parse_args()
    lab_ids = [lab.id for lab in all_labs()] if args.labs == "all" else args.labs.split(",")
    home = Home.at(args.home or tempfile.mkdtemp(prefix="cardlab-bench-")).ensure()
    store = ModelStore.for_home(home)
    runs = []
    for lab_id in lab_ids:
        data = dataset_for(lab_id, args.datasets)
        for seed in (int(s) for s in args.seeds.split(",")):
            before = stored_models(store)
            run = run_lab(lab_id, seed, home, args.preset, data)
            run["models_made"] = {
                name: seconds
                for name, (created, seconds) in stored_models(store).items()
                if before.get(name) != (created, seconds)
            }
            runs.append(run)
            print(run_line(run), flush=True)
    words = [verdict_word(r["verdict"]) for r in runs]
    slowest = max(runs, key=lambda r: r["wall_s"])
    print(
        json.dumps(
            {
                "preset": args.preset,
                "home": str(home.cache_dir.parent),
                # how many processes a CPU lab's independent fits may use (labs.fork_pool)
                "usable_cores": usable_cores(),
                "helpers_asked": os.environ.get(HELPERS_ENV, "one per spare core"),
                "slowest": {"lab": slowest["lab"], "seed": slowest["seed"], "wall_s": slowest["wall_s"]},
                "counts": {w: words.count(w) for w in ("agrees", "inconclusive", "does_not_agree")},
                "runs": runs,
            }
        )
    )


if __name__ == "__main__":
    main()
