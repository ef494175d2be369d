"""Start-up as the user sees it: seconds from spawning the app in a terminal until the first card's text is
in what the terminal received, against the floor (`bench/_floor_app.py`, the smallest Textual app showing
the same text), spawned the same way.

Each run is a fresh interpreter on a 100x30 pseudo-terminal (python's pty module); the bench reads the
terminal's output as it comes, strips the escape sequences, and stops the clock when the text appears
(then ends the process). Unlike `bench/study_startup.py`, which reads the time the app stamps after its
first refresh, this counts everything up to the bytes reaching the terminal. The cardlab case is
`python -m tui.cli --home H study fastai-lesson4` on a fresh home; one warm-up run of each (.pyc files,
OS file cache), then `--pairs` interleaved pairs whose order alternates. Goal: app / floor <= 1.3 by
medians (the CPU each had used when the text appeared is reported beside: on a busy machine it varies
less than the wall). Prints one JSON object as its last line.

    .venv/bin/python bench/startup_pty.py [--pairs 7] [--baseline DIR]

`--baseline DIR` runs the app of another checkout too (e.g. `git archive HEAD | tar -x -C DIR`), from DIR,
in the same interleaved rounds: before and after a change on the same machine state.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import re
import select
import shlex
import signal
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
GOAL_RATIO = 1.3
RUN_TIMEOUT_S = 60.0
ROWS, COLUMNS = 30, 100
NEEDLE_CHARS = 40  # the start of the card's text: short enough never to wrap on 100 columns
ESCAPES = re.compile(
    rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|P[^\x1b]*\x1b\\|[()][0-9A-Za-z]|[=>78M])"
)


def first_card_text() -> str:
    """The front of the card an empty home studies first: the bundled pack's first new card."""
    from cards.pack import load_pack

    pack = load_pack(ROOT / "cards" / "packs" / "lesson4.toml")
    return pack.cards[0].front


def visible_text(output: bytes) -> str:
    return ESCAPES.sub(b"", output).decode("utf-8", "replace")


def cpu_seconds(pid: int) -> float:
    """CPU time the process's threads have had so far (the kernel's schedstat, in ns); 0 where unknown."""
    total = 0
    for task in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(task.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9


def seconds_to_text(command: list[str], needle: str, cwd: Path = ROOT) -> tuple[float, float]:
    """Spawn `command` on a pty: (seconds until `needle` is in its output, CPU seconds it had used by
    then: steadier than the wall on a busy machine). The process is then ended."""
    seconds, cpu, _ = run_until_text(command, needle, cwd)
    return seconds, cpu


def run_until_text(command: list[str], needle: str, cwd: Path = ROOT) -> tuple[float, float, bytes]:
    """`seconds_to_text`, and the bytes the terminal had received by then."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(COLUMNS), "LINES": str(ROWS)}
    for name in ("CARDLAB_HOME", "CARDLAB_BENCH_FIRST_CARD", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
    )
    os.close(slave)
    output = bytearray()
    seen_at: float | None = None
    cpu = 0.0
    try:
        while seen_at is None and time.perf_counter() - started < RUN_TIMEOUT_S:
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            output += chunk
            if needle in visible_text(bytes(output)):
                seen_at = time.perf_counter() - started
                cpu = cpu_seconds(process.pid)
    finally:
        _end(process, master)
    if seen_at is None:
        tail = visible_text(bytes(output))[-1500:]
        raise RuntimeError(f"{needle!r} never appeared (exit {process.returncode}):\n{tail}")
    return seen_at, cpu, bytes(output)


def _end(process: subprocess.Popen[bytes], master: int) -> None:
    """End the process (its group: SIGTERM, then SIGKILL), reading its output meanwhile."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 10
    while process.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                os.read(master, 65536)
            except OSError:
                break
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    os.close(master)


def baseline_figures(
    found: dict[str, list[float]], cpu: dict[str, list[float]], floor: float, floor_cpu: float
) -> dict[str, object]:
    if "baseline" not in found:
        return {}
    wall, used = statistics.median(found["baseline"]), statistics.median(cpu["baseline"])
    return {
        "baseline_s": found["baseline"],
        "median_baseline_s": round(wall, 4),
        "baseline_vs_floor": round(wall / floor, 3),
        "baseline_cpu_s": cpu["baseline"],
        "cpu_baseline_vs_floor": round(used / floor_cpu, 3) if floor_cpu else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=7, help="interleaved floor/app pairs (at least 5)")
    parser.add_argument("--python", default=shlex.quote(sys.executable), help="interpreter command")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="also run the app from this folder (an export of an earlier commit), interleaved with the others",
    )
    args = parser.parse_args()
    python = shlex.split(args.python)
    text = first_card_text()
    needle = text[:NEEDLE_CHARS]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="cardlab-startup-pty-") as folder:
        commands = {
            "floor": [*python, str(ROOT / "bench" / "_floor_app.py"), "--text", text],
            "app": [*python, "-m", "tui.cli", "--home", str(Path(folder) / "home"), "study", BUNDLED_PACK],
        }
        folders = {"floor": ROOT, "app": ROOT}
        if args.baseline is not None:
            commands["baseline"] = [
                *commands["app"][:-3],
                str(Path(folder) / "baseline-home"),
                "study",
                BUNDLED_PACK,
            ]
            folders["baseline"] = args.baseline.resolve()
        for name, command in commands.items():  # warm-up
            seconds_to_text(command, needle, folders[name])
        found: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        for pair in range(args.pairs):
            order = list(commands) if pair % 2 == 0 else list(reversed(commands))
            for name in order:
                wall, used = seconds_to_text(commands[name], needle, folders[name])
                found[name].append(round(wall, 4))
                cpu[name].append(round(used, 4))
    floor, app = (statistics.median(found[name]) for name in ("floor", "app"))
    floor_cpu, app_cpu = (statistics.median(cpu[name]) for name in ("floor", "app"))
    result = {
        "bench": "startup_pty",
        "text": needle,
        "pairs": args.pairs,
        "floor_s": found["floor"],
        "app_s": found["app"],
        "median_floor_s": round(floor, 4),
        "median_app_s": round(app, 4),
        "app_vs_floor": round(app / floor, 3),
        "pair_ratios": [round(a / f, 3) for a, f in zip(found["app"], found["floor"], strict=True)],
        "goal_vs_floor": GOAL_RATIO,
        "floor_cpu_s": cpu["floor"],
        "app_cpu_s": cpu["app"],
        "cpu_app_vs_floor": round(app_cpu / floor_cpu, 3) if floor_cpu else None,
        **baseline_figures(found, cpu, floor, floor_cpu),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
