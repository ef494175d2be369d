"""One lab run as a student starts it (the CLI's runner, a worker process), for the lab benches."""

from __future__ import annotations

import time
from typing import Any

from cards.paths import Home
from labs.registry import get_lab
from labs.runner import LabRun


def run_lab(
    lab_id: str,
    seed: int,
    home: Home,
    preset: str = "quick",
    data: str | None = None,
    assignments: list[str] | tuple[str, ...] = (),
) -> dict[str, Any]:
    """`cardlab lab run LAB --preset P --seed S [--data D] [--set K=V ...]` on `home`: the run's wall
    seconds, the data it says it used, its verdict and the rest of its result. Exits on a failed run."""
    info = get_lab(lab_id)
    run = LabRun(
        info,
        preset=preset,
        seed=seed,
        data=data,
        overrides=info.parse_assignments(list(assignments)),
        home=home,
        runs_dir=home.runs_dir,
    )
    started = time.perf_counter()
    run.start()
    run.join()
    wall = round(time.perf_counter() - started, 1)
    if run.status != "finished":
        raise SystemExit(f"{lab_id} seed {seed}: {run.status} {run.record.error}")
    result = dict(run.result or {})
    verdict = result.pop("verdict", None) or {}
    return {
        "lab": lab_id,
        "seed": seed,
        "wall_s": wall,
        "data": run.record.data,
        "verdict": verdict,
        "result": result,
    }


def verdict_word(verdict: dict[str, Any]) -> str:
    return {True: "agrees", False: "does_not_agree"}.get(verdict.get("agrees"), "inconclusive")


def run_line(run: dict[str, Any]) -> str:
    """One printed line per run: the verdict's numbers and the wall time."""
    v = run["verdict"]
    return (
        f"{run['lab']} seed {run['seed']}: {verdict_word(v):14} effect {v.get('effect')}  "
        f"threshold {v.get('threshold')}  mde {v.get('min_detectable_effect')}  seeds {v.get('seeds')}  "
        f"{run['wall_s']} s"
    )
