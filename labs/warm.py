"""A lab worker started ahead of its run: torch and the engine imported, waiting for its RunSpec.

Every lab run's process pays for importing torch (1.3 s on a quiet 2-core machine, 2-3 s on a loaded
one) and, for the labs that build a `torch.optim` optimizer (L-BFGS), torch's compiler module (1-3 s more;
the engine's own optimizers do not import it). `prepare()` starts one worker ahead (`python -m labs.worker
--warm`) while the user is not waiting: the app calls it while a lab screen is shown and no lab runs
(`tui.app`). `LabRun.start` takes it with `take(env)` and sends it the RunSpec, as it would a fresh worker,
so every check on the spec (the trusted snapshot of a pack's lab) runs after the run starts, on the spec.
A worker started with another environment or working folder is ended and a fresh one starts instead; a
distributed launch (torchrun) always starts fresh.
`cardlab lab run` starts fresh too: a one-off command has no idle time to hide the import in.

Each worker runs one lab and exits: nothing a lab leaves in its process (torch's threads and seeds, its
modules' globals) reaches the next lab. `discard()` ends a waiting worker; the app calls it as it quits,
and `atexit` does for every other process. Every worker is reaped: by `take`'s caller once taken, here
otherwise. Torch-free: the app imports this.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

WARM_FLAG = "--warm"  # `python -m labs.worker --warm`: import ahead, then wait for the spec on stdin
PARENT_ENV = "CARDLAB_LAB_PARENT"  # the app's pid, set when the kernel may end the worker with it
ENABLED_ENV = "CARDLAB_WARM_WORKER"  # "0": start no worker ahead (every run starts a fresh one)
REAP_WAIT = 2.0  # seconds to wait for a killed worker to be reaped
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])  # the folder holding `labs`, for the child


@dataclass(frozen=True)
class _Waiting:
    process: subprocess.Popen[str]
    env: dict[str, str]  # the environment it was started with (before PARENT_ENV)
    cwd: str


_lock = threading.Lock()
_waiting: _Waiting | None = None
_atexit_registered = False


def child_env() -> dict[str, str]:
    """The app's environment, with the folder holding `labs` first on the child's import path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def worker_command(warm: bool = False) -> list[str]:
    return [sys.executable, "-m", "labs.worker", *([WARM_FLAG] if warm else [])]


def start_process(
    command: list[str], env: dict[str, str], *, dies_with_app: bool = True
) -> subprocess.Popen[str]:
    """A lab's process, its stdin, stdout and stderr piped to this one, in a session of its own (Ctrl-C
    reaches the app, which cancels, not the lab directly)."""
    env = dict(env)
    if dies_with_app and threading.current_thread() is threading.main_thread():
        # The kernel ends the worker when the thread that started it ends: only the main thread's end is
        # this process's. (Whatever the thread, a closed pipe also ends it.)
        env[PARENT_ENV] = str(os.getpid())
    return subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=env,
        start_new_session=True,
    )


def prepare() -> None:
    """Start a worker for the next lab run, unless one is waiting already (or `CARDLAB_WARM_WORKER=0`).
    Quick: it does not wait for the worker's imports."""
    global _waiting, _atexit_registered
    if os.environ.get(ENABLED_ENV, "1") == "0":
        return
    with _lock:
        if _waiting is not None and _waiting.process.poll() is None:
            return
        env = child_env()
        ended, _waiting = _waiting, _Waiting(start_process(worker_command(warm=True), env), env, os.getcwd())
        if not _atexit_registered:
            atexit.register(discard)
            _atexit_registered = True
    if ended is not None:  # it died waiting (killed from outside): reaped by poll, its pipes closed here
        _end(ended.process)


def take(env: dict[str, str]) -> subprocess.Popen[str] | None:
    """The waiting worker, if it is alive and was started with `env` in this working folder; the caller
    sends it the RunSpec and reaps it. None (the worker ended, if there was one) when there is none to use."""
    global _waiting
    with _lock:
        waiting, _waiting = _waiting, None
    if waiting is None:
        return None
    if waiting.process.poll() is None and waiting.env == env and waiting.cwd == os.getcwd():
        return waiting.process
    _end(waiting.process)
    return None


def waiting_pid() -> int | None:
    """The pid of the worker waiting for a run, if one is (for tests and the benchmark)."""
    with _lock:
        return _waiting.process.pid if _waiting is not None else None


def discard() -> None:
    """End the waiting worker, if there is one, and reap it."""
    global _waiting
    with _lock:
        waiting, _waiting = _waiting, None
    if waiting is not None:
        _end(waiting.process)


def _end(process: subprocess.Popen[str]) -> None:
    """Kill a worker that holds no run (nothing to save or cancel) and reap it."""
    try:
        process.kill()
    except OSError:
        pass  # already gone
    try:
        process.wait(REAP_WAIT)
    except subprocess.TimeoutExpired:
        pass  # a kernel too slow to deliver SIGKILL: the pipes' close still ends it
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass
