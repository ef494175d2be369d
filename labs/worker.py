"""`python -m labs.worker`: run one lab in this process and stream its events to the app.

The protocol, one JSON object per line:

    stdin   first line: the RunSpec; then {"cancel": true}, {"predict": "text"} or {"quit": true}
    stdout  events (`labs.events.event_to_dict`, with "type"); {"predictor": true} just before a
            Finished whose lab can predict; {"prediction": answer} or {"prediction_error": message}

After a Finished with a predictor the worker stays alive, answering predictions, until it is told to
quit or its stdin closes. A closed stdin also cancels a run: the app is gone. The lab's own prints go to
stderr, so that nothing but protocol lines reaches stdout.

`--warm` (`labs.warm`): the process was started before its run; it imports torch and the engine first,
then waits for the RunSpec, and runs that one lab like any other. A closed stdin before any spec ends it.

Under torchrun (`labs.launch`) every rank runs this, reading the RunSpec from the environment; rank 0 alone
reads stdin and writes the protocol, the others write nothing there (their failures go to stderr and
their exit code, which torchrun reports).
"""

from __future__ import annotations

import json
import os
import queue
import re
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import IO, Any

from labs.errors import LabError
from labs.events import Cancelled, Failed, FailureKind, Finished, LabEvent, event_to_dict
from labs.fork_pool import kill_with_parent
from labs.spec import RunSpec
from labs.warm import PARENT_ENV, WARM_FLAG


class Channel:
    """Protocol lines to the app, one writer at a time (the lab's thread, the command thread)."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        line = json.dumps(message) + "\n"
        with self._lock:
            self._stream.write(line)
            self._stream.flush()


def protocol_stdout() -> IO[str]:
    """A private copy of stdout for the protocol; fd 1 (print, C libraries) then points at stderr."""
    stream = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return stream


ORPHAN_GRACE = 3.0  # seconds a lab whose app is gone has to stop by itself before this process exits
EXIT_ORPHANED = 3


def read_commands(stdin: IO[str], cancel: threading.Event, requests: queue.Queue[str | None]) -> None:
    told_to_quit = False
    for line in stdin:
        try:
            command = json.loads(line)
        except ValueError:
            continue
        if command.get("cancel"):
            cancel.set()
        elif "predict" in command:
            requests.put(str(command["predict"]))
        elif command.get("quit"):
            told_to_quit = True
            break
    cancel.set()
    requests.put(None)
    if not told_to_quit:  # the pipe from the app closed: it is gone, however it died; so is this process
        time.sleep(ORPHAN_GRACE)  # a lab that checks its cancel flag ends by itself meanwhile
        os._exit(EXIT_ORPHANED)


def die_with_parent() -> None:
    """On Linux, ask the kernel to SIGKILL this process when the app that started it dies (even by
    SIGKILL, which leaves it no chance to stop us). The closed pipe (`read_commands`) covers the rest."""
    parent = os.environ.pop(PARENT_ENV, "")  # not inherited by the lab's own subprocesses
    if not parent.isdigit() or not kill_with_parent():
        return
    if os.getppid() != int(parent):  # the app died before the kernel was asked
        os._exit(EXIT_ORPHANED)


def run_lab(spec: RunSpec, channel: Channel, cancel: threading.Event) -> tuple[LabEvent, Any]:
    """Run the lab: its terminal event (not yet sent) and its context (None if it could not be made)."""
    started = time.perf_counter()

    def emit(event: LabEvent) -> None:
        event.at = round(time.perf_counter() - started, 4)
        channel.send(event_to_dict(event))

    terminal, ctx = _run(spec, emit, cancel, started)
    terminal.at = round(time.perf_counter() - started, 4)
    return terminal, ctx


def _run(spec: RunSpec, emit: Any, cancel: threading.Event, started: float) -> tuple[LabEvent, Any]:
    from labs.context import LabCancelled, LabContext
    from labs.registry import load_run_function

    ctx = None
    try:
        ctx = LabContext(spec, emit, cancel)
        only_trusted_code(spec.info)
        run = load_run_function(spec.info)
        ctx.prepare()
        result = dict(run(ctx) or {})
        return Finished(result=result, seconds=round(time.perf_counter() - started, 3)), ctx
    except LabCancelled:
        return Cancelled(stage=ctx.current_stage if ctx else ""), ctx
    except BaseException as error:  # every failure must reach the app as a Failed event
        kind = failure_kind(error)
        return Failed(error=describe_failure(error, kind), traceback=traceback.format_exc(), kind=kind), ctx


def only_trusted_code(info: Any) -> None:
    """A pack's lab imports only from its trusted snapshot, checked here against its digest: no bytecode is
    written (none is read: a snapshot holds none), and the working folder leaves the import path."""
    from labs.labdir import PACK_NAMESPACE
    from labs.packlabs import is_snapshot_folder, verify_snapshot

    if not info.module.startswith(f"{PACK_NAMESPACE}."):
        return
    sys.dont_write_bytecode = True
    if not is_snapshot_folder(info.folder) or not verify_snapshot(info.folder.parent):
        raise LabError(f"lab {info.id!r}: its trusted copy is missing or changed; trust its pack again")
    sys.path[:] = [entry for entry in sys.path if entry not in working_folder_entries()]


def working_folder_entries() -> set[str]:
    """The import path's entries for the working folder (unless it is the folder holding `labs`)."""
    return {"", ".", os.getcwd()} - {str(Path(__file__).resolve().parents[1])}


# What a lab's process imports ahead when it is started before its run (`labs.warm`): torch, pandas, the
# engine's common modules, and torch's compiler module (1-3 s of its own). The engine's optimizers never
# import the compiler, but any torch.optim optimizer does when it is built: the L-BFGS fits of the
# cold-start lab and of the ulmfit-lm lab's probe (labs._review_lm.probe_correct).
IMPORTS_AHEAD = (
    "torch",
    "torch._dynamo",
    "numpy",
    "pandas",
    "engine.learner",
    "engine.metrics",
    "engine.callbacks.progress",
    "labs.context",
    "labs.registry",
)


def import_ahead() -> None:
    """Import what most labs need, before the RunSpec comes, from our folder and the installed packages
    only (the working folder leaves the import path meanwhile). A failure is left to the lab to meet."""
    import importlib

    saved = list(sys.path)
    here = working_folder_entries()
    sys.path[:] = [entry for entry in sys.path if entry not in here]
    try:
        for name in IMPORTS_AHEAD:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001, S112 - the lab's own import reports it
                continue
    finally:
        sys.path[:] = saved


def failure_kind(error: BaseException) -> FailureKind:
    # Looked up, not imported: a lab that failed before it imported them raised neither error, and
    # importing torch here would delay its failure by a second or more.
    guards = sys.modules.get("engine.callbacks.guards")
    if guards is not None and isinstance(error, guards.TrainingDiverged):
        return "diverged"
    if isinstance(error, MemoryError | _torch_oom()) or "out of memory" in str(error).lower():
        return "out_of_memory"
    return "error"


def _torch_oom() -> type[BaseException]:
    torch = sys.modules.get("torch")
    return getattr(torch, "OutOfMemoryError", MemoryError)  # torch < 2.5 has only torch.cuda's


def describe_failure(error: BaseException, kind: FailureKind) -> str:
    from engine.datasets.catalog import DatasetError

    if "engine.distributed" in sys.modules:  # a failed collective: name the rank that was lost
        error = sys.modules["engine.distributed"].explain(error)
    text = str(error) or type(error).__name__
    if kind == "diverged":
        return f"training diverged: {text}. Try a lower learning rate (lr) or run lr-find first."
    if kind == "out_of_memory":
        return f"out of memory: {text}. Try a smaller batch size (bs) or the quick preset."
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    if refused := refused_pickle(error):
        return refused
    if isinstance(error, LabError | DatasetError | _DistributedError()):  # says what to do
        return text
    return f"{type(error).__name__}: {text}"


def refused_pickle(error: BaseException) -> str | None:
    """torch's weights_only refusal of a file holding pickled objects, said as what it is (unsafe, not
    loaded) rather than with torch's advice to load it with weights_only=False."""
    import pickle

    text = str(error)
    if not isinstance(error, pickle.UnpicklingError) or "Weights only load failed" not in text:
        return None
    found = re.search(r"GLOBAL (\S+)", text)
    what = f" (it asks for {found.group(1)})" if found else ""
    return (
        f"a weights file holds pickled Python objects{what}, which can run code when loaded: that is "
        "unsafe, so it was not loaded. Use weights saved as tensors only (a state dict)."
    )


def _DistributedError() -> type[BaseException]:  # noqa: N802 - a type, looked up only when needed
    module = sys.modules.get("engine.distributed")
    return module.DistributedError if module is not None else LabError


def serve_predictions(predict: Any, requests: queue.Queue[str | None], channel: Channel) -> None:
    while (text := requests.get()) is not None:
        try:
            channel.send({"prediction": str(predict(text))})
        except Exception as error:  # a bad input must not end the worker
            channel.send({"prediction_error": f"{type(error).__name__}: {error}"})


def main() -> int:
    from labs.launch import SPEC_ENV, process_rank

    die_with_parent()
    stream = protocol_stdout()
    if process_rank() != 0:
        return run_silently(RunSpec.from_json(os.environ[SPEC_ENV]))
    if WARM_FLAG in sys.argv[1:]:
        import_ahead()
    channel = Channel(stream)
    line = os.environ.get(SPEC_ENV) or sys.stdin.readline()
    if not line.strip():  # the app ended (or discarded this worker) before any run came
        return 0
    spec = RunSpec.from_json(line)
    cancel = threading.Event()
    requests: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=read_commands, args=(sys.stdin, cancel, requests), daemon=True).start()
    try:
        terminal, ctx = run_lab(spec, channel, cancel)
    finally:
        leave_process_group()
    predictor = ctx.predictor if ctx is not None and isinstance(terminal, Finished) else None
    if predictor is not None:
        channel.send({"predictor": True})  # before Finished: the screen offers the box when it sees that
    channel.send(event_to_dict(terminal))
    if predictor is not None:
        serve_predictions(predictor, requests, channel)
    if ctx is not None:
        ctx.cleanup()
    return 0


def run_silently(spec: RunSpec) -> int:
    """A rank other than 0: train along, report nothing; a failure goes to stderr and the exit code."""
    channel = Channel(open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 - lives as long as the run
    try:
        terminal, ctx = run_lab(spec, channel, threading.Event())
    finally:
        leave_process_group()
    if ctx is not None:
        ctx.cleanup()
    if isinstance(terminal, Failed):
        print(f"rank {os.environ.get('RANK')}: {terminal.error}\n{terminal.traceback}", file=sys.stderr)
        return 1
    return 0


def leave_process_group() -> None:
    """destroy_process_group once the lab's code is done, however it ended (if torch was ever loaded)."""
    if "engine.distributed" in sys.modules:
        sys.modules["engine.distributed"].teardown()


if __name__ == "__main__":
    sys.exit(main())
