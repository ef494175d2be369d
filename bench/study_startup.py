"""Cold start of the app to the first card on screen, in a real pseudo-terminal.

Each run is a fresh interpreter: `python -m tui.cli --home H study PACK` on a 100x30 pty. The app (told
by CARDLAB_BENCH_FIRST_CARD) writes the wall-clock time at which the study screen has painted its first
card (after the refresh that follows Textual's Ready: the first frame is written), then exits; the figure is that time minus the moment just before the process was spawned, so it
includes interpreter start-up, imports, loading the packs, opening the store and the first paint.

`bench/startup_pty.py` measures instead when the card's text reaches the terminal.

Cases: the bundled pack on an empty home (goal: within 1.3x of the floor) and the scale data, a
100,000-card pack with 1,000,000 review rows from `bench/_scale_data.py` (goal < 1 s). The floor is the
smallest Textual app painting one line (`bench/_floor_app.py`), spawned the same way; its runs alternate
with the bundled pack's (floor, app, floor, app...) so a busy machine slows both alike, and the ratio of
the medians is reported. One warm-up run per case (it writes the .pyc files and fills the OS file cache),
then the measured runs. Prints one JSON object as its last line.

    .venv/bin/python bench/study_startup.py [--runs 5] [--cards 100000] [--reviews 1000000] [--skip-scale]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import resource
import select
import shlex
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BUNDLED_PACK = "fastai-lesson4"
GOALS_S = {"scale": 1.0}
GOAL_RATIO = 1.3  # the bundled pack's first card vs the floor app's first line
RUN_TIMEOUT_S = 60.0


def cardlab_command(home: Path, pack_id: str, python: list[str]) -> list[str]:
    return [*python, "-m", "tui.cli", "--home", str(home), "study", pack_id]


def floor_command(python: list[str]) -> list[str]:
    return [*python, str(ROOT / "bench" / "_floor_app.py")]


def first_card_seconds(command: list[str]) -> tuple[float, float]:
    """Spawn `command` on a pty: (wall seconds from spawn to the first card painted, CPU seconds used).

    The command is told where to write its "painted" time by CARDLAB_BENCH_FIRST_CARD (the floor app
    gets the path as its last argument). The CPU figure (user + system of the whole run, which ends right
    after the first paint) shows what the start-up costs when other processes compete for the cores and
    stretch the wall-clock figure.
    """
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    with tempfile.TemporaryDirectory(prefix="cardlab-bench-") as scratch:
        stamp = Path(scratch) / "first-card"
        env = {**os.environ, "CARDLAB_BENCH_FIRST_CARD": str(stamp), "TERM": "xterm-256color"}
        env.pop("CARDLAB_HOME", None)
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # the warm-up run writes the .pyc files, as an install has
        if "tui.cli" not in command:
            command = [*command, str(stamp)]
        cpu_before = _children_cpu()
        started = time.time()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        output = _drain(master, process)
        os.close(master)
        if process.returncode != 0 or not stamp.exists():
            tail = output[-2000:].decode("utf-8", "replace")
            raise RuntimeError(f"the app did not report a first card (exit {process.returncode}):\n{tail}")
        return float(stamp.read_text()) - started, _children_cpu() - cpu_before


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _drain(master: int, process: subprocess.Popen) -> bytes:
    """Read the terminal output until the app exits (a full pty would block the app's writes)."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                chunks.append(os.read(master, 65536))
            except OSError:  # the child closed the terminal
                break
        elif process.poll() is not None:
            break
    else:
        process.kill()
    process.wait()
    return b"".join(chunks)


def summary(runs: list[tuple[float, float]]) -> dict[str, object]:
    walls, cpus = zip(*runs)
    return {
        "median_s": round(statistics.median(walls), 4),
        "min_s": round(min(walls), 4),
        "runs_s": [round(t, 4) for t in walls],
        "cpu_median_s": round(statistics.median(cpus), 4),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def measure(command: list[str], runs: int) -> dict[str, object]:
    first_card_seconds(command)  # warm-up: .pyc files, OS file cache
    return summary([first_card_seconds(command) for _ in range(runs)])


def measure_interleaved(commands: dict[str, list[str]], runs: int) -> dict[str, dict[str, object]]:
    """Each command once to warm up, then `runs` rounds of every command in turn."""
    for command in commands.values():
        first_card_seconds(command)
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            results[name].append(first_card_seconds(command))
    return {name: summary(found) for name, found in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="measured runs per case")
    parser.add_argument("--scale-runs", type=int, default=3, help="measured runs of the scale case")
    parser.add_argument("--cards", type=int, default=100_000)
    parser.add_argument("--reviews", type=int, default=1_000_000)
    parser.add_argument("--skip-scale", action="store_true", help="only the bundled pack")
    parser.add_argument(
        "--python",
        default=shlex.quote(sys.executable),
        help="interpreter command for the app, e.g. 'python3 -S' where a site-packages .pth imports extras",
    )
    args = parser.parse_args()
    python = shlex.split(args.python)

    result: dict[str, object] = {"bench": "study_startup", "python": sys.version.split()[0]}
    with tempfile.TemporaryDirectory(prefix="cardlab-startup-") as folder:
        bundled_home = Path(folder) / "bundled"
        found = measure_interleaved(
            {"floor": floor_command(python), "bundled": cardlab_command(bundled_home, BUNDLED_PACK, python)},
            args.runs,
        )
        ratio = found["bundled"]["median_s"] / found["floor"]["median_s"]  # type: ignore[operator]
        result["floor"] = found["floor"]
        result["bundled"] = {**found["bundled"], "vs_floor": round(ratio, 3), "goal_vs_floor": GOAL_RATIO}
        print(f"floor app: {result['floor']}", file=sys.stderr)
        print(f"bundled pack: {result['bundled']}", file=sys.stderr)
        if not args.skip_scale:
            from bench._scale_data import make_scale_home

            started = time.perf_counter()
            scale = make_scale_home(Path(folder) / "scale", args.cards, args.reviews)
            generate_s = time.perf_counter() - started
            runs = measure(
                cardlab_command(scale.home.data_dir.parent, scale.pack_id, python), args.scale_runs
            )
            result["scale"] = {
                **runs,
                "goal_s": GOALS_S["scale"],
                "cards": args.cards,
                "reviews": args.reviews,
                "generate_s": round(generate_s, 2),
            }
            print(f"scale: {result['scale']}", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
