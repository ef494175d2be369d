"""A lab run from a worker started ahead (`labs.warm`) against one from a fresh worker, as the app runs it.

Seconds from `LabRun.start()` to the run's first event, and to its end, in interleaved pairs (the order
alternates), medians. The warm worker is started beforehand and given time to finish its imports (the
user's time on a lab screen before pressing ctrl+r).

    python bench/lab_start.py [--lab collab] [--preset smoke] [--pairs 5]

Prints one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labs import warm  # noqa: E402
from labs.registry import get_lab  # noqa: E402
from labs.runner import LabRun  # noqa: E402


def cpu_ticks(pid: int) -> tuple[str, int]:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return fields[0], int(fields[11]) + int(fields[12])  # state, utime + stime


def wait_until_idle(pid: int, timeout: float = 180.0) -> float:
    """Wait for the warm worker to finish its imports (asleep, no CPU for 0.6 s); the seconds waited."""
    started = time.perf_counter()
    last, still = -1, 0
    while time.perf_counter() - started < timeout:
        state, ticks = cpu_ticks(pid)
        still = still + 1 if (state == "S" and ticks == last) else 0
        if still >= 3:
            break
        last = ticks
        time.sleep(0.2)
    return round(time.perf_counter() - started, 2)


def one_run(lab: str, preset: str, from_warm: bool) -> dict[str, float]:
    warm.discard()
    if from_warm:
        warm.prepare()
        pid = warm.waiting_pid()
        assert pid is not None, "no warm worker (CARDLAB_WARM_WORKER=0?)"
        wait_until_idle(pid)
    run = LabRun(get_lab(lab), preset=preset, device="cpu", runs_dir=None)
    started = time.perf_counter()
    run.start()
    run.wait_for_events(0, 600)
    first = time.perf_counter() - started
    run.join(600)
    wall = time.perf_counter() - started
    taken = run._process is not None and "--warm" in (run._process.args or [])
    run.close()
    assert run.status == "finished", run.status
    assert taken == from_warm, "the run did not take the worker it was meant to"
    return {"first_event_s": round(first, 3), "wall_s": round(wall, 3)}


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lab", default="collab")
    parser.add_argument("--preset", default="smoke")
    parser.add_argument("--pairs", type=int, default=5)
    args = parser.parse_args()
    load_before = os.getloadavg()
    cold: list[dict[str, float]] = []
    warmed: list[dict[str, float]] = []
    for pair in range(args.pairs):
        for from_warm in (pair % 2 == 1, pair % 2 == 0):
            (warmed if from_warm else cold).append(one_run(args.lab, args.preset, from_warm))
    warm.discard()
    result: dict[str, object] = {
        "lab": args.lab,
        "preset": args.preset,
        "pairs": args.pairs,
        "cold_first_event_s": [r["first_event_s"] for r in cold],
        "warm_first_event_s": [r["first_event_s"] for r in warmed],
        "cold_wall_s": [r["wall_s"] for r in cold],
        "warm_wall_s": [r["wall_s"] for r in warmed],
    }
    for key in ("first_event_s", "wall_s"):
        result[f"median_cold_{key}"] = median([r[key] for r in cold]) if cold else None
        result[f"median_warm_{key}"] = median([r[key] for r in warmed]) if warmed else None
    result["loadavg_before"] = [round(x, 2) for x in load_before]
    result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
