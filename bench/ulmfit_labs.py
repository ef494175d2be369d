"""Benchmark: the ULMFiT labs' quick presets over several seeds, the way a student runs them.

    python bench/ulmfit_labs.py [--seeds 0,1,2,3,4] [--home DIR] [--labs ulmfit-classifier,discriminative-lr]

With a fresh `--home` (default: a new temporary folder) the first lab pretrains the general language model
once (timed as `pretrain_s`), `ulmfit-lm` then saves `fine_tuned_enc`, and every later run reuses both from
the model store, as a student's labs would. Each run is `cardlab lab run LAB --preset quick --seed S`
through the same runner the CLI uses. Prints a table per lab, then one JSON object: per lab and seed the
result's accuracies and verdict, each run's wall time, and the means.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._openmp import sleeping_idle_threads  # noqa: E402

sleeping_idle_threads()  # before torch loads (see bench/_openmp.py)

from cards.paths import Home  # noqa: E402
from labs.model_store import GENERAL_LM, ModelStore  # noqa: E402
from labs.registry import get_lab  # noqa: E402
from labs.runner import LabRun  # noqa: E402

KEYS = {
    "ulmfit-classifier": ("head_only_accuracy", "gradual_accuracy", "all_at_once_accuracy"),
    "discriminative-lr": ("accuracy_ratio_1", "accuracy_ratio_2_6", "accuracy_large_ratio"),
    "ulmfit-lm": ("perplexity_before", "perplexity_after"),
}


def run_once(lab_id: str, seed: int, home: Home) -> dict[str, object]:
    run = LabRun(get_lab(lab_id), preset="quick", seed=seed, home=home, runs_dir=home.runs_dir)
    started = time.perf_counter()
    run.start()
    run.join()
    if run.status != "finished":
        raise SystemExit(f"{lab_id} seed {seed}: {run.status} {run.record.error}")
    result = dict(run.result or {})
    return {"seed": seed, "wall_s": round(time.perf_counter() - started, 1), **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--labs", default="ulmfit-classifier,discriminative-lr")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    home = Home.at(args.home or tempfile.mkdtemp(prefix="cardlab-bench-")).ensure()
    store = ModelStore.for_home(home)
    report: dict[str, object] = {"home": str(home.cache_dir.parent)}
    had_general = store.find(GENERAL_LM) is not None
    first = run_once("ulmfit-lm", seeds[0], home)
    report["ulmfit-lm"] = first
    if not had_general:
        report["pretrain_s"] = store.get(GENERAL_LM).seconds
    for lab_id in args.labs.split(","):
        runs = [run_once(lab_id, seed, home) for seed in seeds]
        keys = KEYS[lab_id]
        print(lab_id)
        for r in runs:
            print(
                f"  seed {r['seed']}: "
                + "  ".join(f"{k} {r[k]}" for k in keys)
                + f"  verdict {r['verdict']}  {r['wall_s']} s"
            )
        means = {k: round(sum(float(r[k]) for r in runs) / len(runs), 4) for k in keys}
        print("  mean: " + "  ".join(f"{k} {v}" for k, v in means.items()))
        report[lab_id] = {"runs": runs, "means": means}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
