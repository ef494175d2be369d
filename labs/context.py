"""What a lab's `run(ctx)` gets: its parameters, device, seed and data, and ways to report.

A lab reads like the lesson's notebook; the context turns its training into events, which `emit` hands on (in the lab's
process, `labs.worker` writes them to the app as JSON lines):

    with ctx.stage("train"):
        learn = ctx.watch(tabular_learner(data, layers=[200, 100], device=ctx.device))
        learn.fit_one_cycle(p.epochs, p.lr)
    ctx.table("predictions", ["row", "label"], rows)

`ctx.watch(learn)` adds the engine's `EventStream` (batch losses, epoch rows) and a cancel check to the
learner; `ctx.lr_find(learn)` streams the finder's curve point by point. Imported only in the lab's
process, so the app never loads torch.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, TypeVar

from engine.callbacks.core import Callback
from engine.events import BatchEnded, EpochEnded, FitEnded, FitStarted
from engine.utils import format_number
from labs.events import (
    ArtifactSaved,
    BatchLoss,
    DataUsed,
    EpochRow,
    LabEvent,
    LrFinderPoint,
    LrSuggestion,
    StageFinished,
    StageStarted,
    TableOutput,
    TextKind,
    TextOutput,
    seed_series,
)
from labs.fork_pool import ForkPool, Item, Message, Result, helper_count
from labs.launch import process_rank
from labs.progress import ProgressPlan
from labs.spec import RunSpec
from labs.verdict import SMOKE, Verdict, judge_rivals

if TYPE_CHECKING:
    from engine.callbacks.lr_finder import LRFindResult
    from engine.datasets.fetch import HasDatasetsDir
    from engine.learner import Learner

AnyLearner = TypeVar("AnyLearner", bound="Learner")  # watch() gives back the learner it was given

# the finder's `minimum` suggestion is the lowest loss's rate divided by 10: its marker says so
MINIMUM_LABEL = "minimum / 10"
SEED_STRIDE = 1000  # a run's seeds: --seed, --seed + 1000, ...: runs with other --seed values never overlap
PROGRESS_INTERVAL = 0.2  # seconds between Progress events; the last step of a fit always reports


class LabCancelled(Exception):
    """The student cancelled the run; raised at the next batch or stage."""


class _CancelCheck(Callback):
    """Stops a fit at the next batch once the run is cancelled, with an exception that ends the lab."""

    order = -100

    def __init__(self, cancel_event: threading.Event) -> None:
        self._cancel = cancel_event

    def before_batch(self) -> None:
        from engine.distributed import agreed_stop

        if agreed_stop(self.learn.training, self._cancel.is_set()):  # every rank stops at the same batch
            raise LabCancelled


class LabContext:
    def __init__(self, spec: RunSpec, emit: Callable[[LabEvent], None], cancel: threading.Event) -> None:
        self.spec = spec
        self.info = spec.info
        self.params = dict(spec.params)
        self.p = SimpleNamespace(**spec.params)  # `p.lr` reads like the notebook's variables
        self.preset = spec.preset
        self.requested_device = spec.device
        self.device = spec.device  # resolved to "cpu", "cuda", ... by prepare()
        self.seed = spec.seed
        self.data: Path | None = None  # the real data to train on; None: the lab generates its own
        self.data_name = ""  # the catalog name (or the path as given) of `data`
        self.data_fallback_note = ""  # offline: which real dataset would have been used, and how to get it
        self.current_stage = ""
        self.predictor: Callable[[str], str] | None = None
        self._emit = emit
        self._cancel = cancel
        self._home = spec.home
        self._own_work_dir = spec.work_dir is None
        self.work_dir = spec.work_dir or Path(tempfile.mkdtemp(prefix="cardlab-lab-"))
        self.clock: Callable[[], float] = time.perf_counter  # a test gives a fake one
        self._plan = ProgressPlan(lambda: self.clock())
        self._last_progress = 0.0
        self._relay: Callable[[str, tuple[Any, ...]], None] | None = None  # set in a helper process
        self._pool: ForkPool[Any, Any] | None = None  # while run_all shares fits with helper processes
        self._lr_finding = False
        self._series = "train"
        self._series_steps: dict[str, int] = {}
        self._saved_threads: int | None = None

    # -- set-up -----------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Seed, resolve the device, take the data the app chose; errors here say what to pass instead.

        A lab whose module did not import torch (a test lab, a lab of plain Python) runs on the CPU without
        loading it: torch's import is most of such a run's time. A lab that trains imports torch or the
        engine at its module's top, as every built-in lab and the scaffold do, so torch is seeded here,
        before its first model."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        choice = self.spec.data_choice  # decided in the app (labs.data_choice), never again here
        self.data = Path(choice.path) if choice.path else None
        self.data_name, self.data_fallback_note = choice.name, choice.note
        if "torch" not in sys.modules and not self.distributed and self.requested_device in ("auto", "cpu"):
            random.seed(self.seed)
            self.device = "cpu"
            return
        self._prepare_torch()

    def _prepare_torch(self) -> None:
        from engine.utils import pick_device, set_seed

        set_seed(self.seed)
        if self.distributed:
            from engine.distributed import rank_device, setup

            setup(self.requested_device)  # nccl on this rank's GPU, else gloo; left by the worker
            self.device = str(rank_device(self.requested_device))
        else:
            self.device = str(pick_device(self.requested_device))
        if self.spec.cpu_threads:
            self._set_cpu_threads(self.spec.cpu_threads)
        elif self.device == "cpu" and self.preset != "full":
            self._set_cpu_threads(1)

    def _set_cpu_threads(self, threads: int) -> None:
        """By default one: the small presets' models are too small to gain from intra-op threads, and on a
        busy 2-core machine torch's thread hand-offs made an epoch 5x slower (measured: 19 s against 3.7 s)."""
        import torch

        self._saved_threads = torch.get_num_threads()
        torch.set_num_threads(threads)

    def cleanup(self) -> None:
        if self._saved_threads is not None:
            import torch

            torch.set_num_threads(self._saved_threads)
        if self._own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    # -- reporting ----------------------------------------------------------------------------------

    def emit(self, event: LabEvent) -> None:
        if self.is_main:
            self._emit(event)

    def check_cancelled(self) -> None:
        cancelled = self._cancel.is_set()
        if self.distributed:  # only rank 0 hears the app: every rank agrees at the same step of the lab
            from engine.distributed import any_rank

            cancelled = any_rank(cancelled)
        if cancelled:
            raise LabCancelled

    @property
    def distributed(self) -> bool:
        """The lab runs on several processes (torchrun); see docs/distributed.md."""
        return int(os.environ.get("WORLD_SIZE", "1") or 1) > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 of a distributed run (or the only process): the one that writes files and reports."""
        return process_rank() == 0

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """One step of the lab; it is highlighted on the lab screen while it runs."""
        self.check_cancelled()
        index = self.info.steps.index(name) if name in self.info.steps else -1
        self.current_stage = name
        started = time.perf_counter()
        self.emit(StageStarted(name=name, index=index))
        yield
        self.emit(StageFinished(name=name, seconds=round(time.perf_counter() - started, 3)))
        self.check_cancelled()

    def text(self, text: str, title: str = "", kind: TextKind = "text") -> None:
        self.emit(TextOutput(text=text, title=title, kind=kind))

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.emit(
            TableOutput(
                title=title,
                columns=list(columns),
                rows=[[format_number(c, trim_zeros=True) for c in row] for row in rows],
            )
        )

    def artifact(self, name: str, path: Path) -> None:
        self.emit(ArtifactSaved(name=name, path=str(path)))

    @property
    def data_source(self) -> str:
        """ "real" when the run trains on a real dataset, "generated" for the lab's offline fallback."""
        return "real" if self.data is not None else "generated"

    def report_data(self, rows: int, unit: str = "rows", generator: str = "") -> None:
        """Say which data the run uses (the screen, `lab run` and run.json's "data" all show it);
        `generator` names what the generated data holds, when it is generated."""
        real = self.data is not None
        name = (self.data_name or str(self.data)) if real else (generator or "the lab's generator")
        note = "" if real else self.data_fallback_note
        self.emit(
            DataUsed(source="real" if real else "generated", name=name, rows=int(rows), unit=unit, note=note)
        )

    @property
    def seeds(self) -> list[int]:
        """The seeds a comparison runs on: `--seed`, then `--seed` + 1000, + 2000, ... (the `seeds`
        parameter; one without it), so that runs with different `--seed` (below 1000) share no seed and
        are independent experiments. Every seed trains every arm on the same split; the verdict weighs
        the spread between them."""
        count = int(self.params.get("seeds", 1))
        return [self.seed + SEED_STRIDE * offset for offset in range(count)]

    def judge(self, claim: str, rivals: dict[str, list[float]] | list[float], metric: str = "") -> Verdict:
        """The verdict on per-seed paired differences (a list), or on one list per rival; a smoke run gives
        none by design, and the lab's `reference` figure travels with it."""
        comparisons = rivals if isinstance(rivals, dict) else {"": rivals}
        note = SMOKE if self.preset == "smoke" else ""
        return judge_rivals(claim, comparisons, metric=metric, reference=self.info.reference, note=note)

    def set_predictor(self, predict: Callable[[str], str]) -> None:
        """Offer `predict(user_text) -> answer` to the lab screen once training is done."""
        self.predictor = predict

    def reseed(self, seed: int | None = None) -> None:
        """Seed again (the run's seed, or `seed`), so the next model starts from the same weights as the
        one before it."""
        from engine.utils import set_seed

        set_seed(self.seed if seed is None else seed)

    @contextmanager
    def seeded(self, seed: int) -> Iterator[None]:
        """Train under another seed (a model made once for every run), then back to the run's own."""
        from engine.utils import set_seed

        set_seed(seed)
        try:
            yield
        finally:
            self.reseed()

    @property
    def home(self) -> Any:
        """The run's `cards.paths.Home` (its model store, datasets and runs)."""
        if self._home is None:
            from cards.paths import Home

            self._home = Home.resolve()
        return self._home

    def resolve_data(self, value: str) -> Path:
        """A dataset name (`cardlab data fetch NAME`) or a path, as `--data` takes it."""
        return resolve_data(value, self.home)

    def curve(self, name: str, seed: int | None = None) -> None:
        """Draw the following fits as their own curve `name` (for comparisons), starting at step 1; with
        `seed`, as that seed's fit of the arm `name`: charts draw one line per arm (the mean over its
        seeds) with a band for their spread, and the per-seed curves on demand."""
        self._series = name if seed is None else seed_series(name, seed)

    def expect_steps(self, steps: int) -> None:
        """Declare the training steps the whole lab will take (every stage, arm and seed: call it once at
        the start with the whole plan where you can), so the progress bar and ETA cover the whole run.
        Without it the plan grows fit by fit, and the bar never shows 100% before the run has ended."""
        self._plan_changed("expect", (int(steps),))

    def run_all(self, run: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
        """`[run(item) for item in items]`, shared with helper processes forked from this one when the run
        trains on a CPU, one thread a fit, with cores to spare (`labs.fork_pool`): on 2 cores the built-in
        labs' quick runs took 19-39 % less time (`bench/quick_labs.py`). Each item must be an experiment of
        its own: reseeded at its start (`ctx.reseed(seed)`), depending on nothing an earlier item changed,
        returning something that pickles (a number; a model's weights as bytes). Its curves, rows and texts
        reach the app as from this process; the results come back in the items' order."""
        helpers = self._helpers_for(len(items))
        if helpers == 0:
            return [run(item) for item in items]
        self._pool = ForkPool(
            run, items, helpers, self._become_helper, self._from_helper, self.check_cancelled
        )
        try:
            return self._pool.map()
        finally:
            self._pool = None

    def _helpers_for(self, items: int) -> int:
        if self._pool is not None or self._relay is not None or self.device != "cpu" or self.distributed:
            return 0
        threads = sys.modules["torch"].get_num_threads() if "torch" in sys.modules else 1
        return helper_count(items, threads)

    def _become_helper(self, send: Callable[[Message], None]) -> None:
        """In a helper process: what its fits report goes to the lab's process (`_from_helper`)."""
        self._pool = None
        self._emit = lambda event: send(("event", event))
        self._relay = lambda change, args: send(("plan", change, args))

    def _from_helper(self, helper: int, message: Message) -> None:
        kind, *body = message
        if kind == "event":
            self.emit(body[0])
        elif kind == "plan":
            change, args = body
            if change == "expect":
                self._plan.expect(*args)
            else:
                getattr(self._plan, change)(*args, fit=("helper", helper))
            self._report_progress(force=change == "fit_ended")

    # -- engine wiring ------------------------------------------------------------------------------

    def callbacks(self) -> list[Callback]:
        from engine.callbacks.progress import EventStream

        return [EventStream(self._on_engine_event), _CancelCheck(self._cancel)]

    def watch(self, learn: AnyLearner) -> AnyLearner:
        """Stream `learn`'s training as lab events, and stop it when the run is cancelled."""
        for callback in self.callbacks():
            learn.add_cb(callback)
        return learn

    def lr_find(self, learn: Learner, **kwargs: Any) -> LRFindResult:
        """`learn.lr_find(**kwargs)` with its curve streamed point by point and its suggestions marked."""
        self._lr_finding = True
        try:
            result = learn.lr_find(**kwargs)
        finally:
            self._lr_finding = False
        self.check_cancelled()
        for name, label in (("valley", "valley"), ("steep", "steep"), ("minimum", MINIMUM_LABEL)):
            value = getattr(result, name, None)
            if value is not None and math.isfinite(value):
                self.emit(LrSuggestion(name=label, lr=float(value)))
        return result

    def _on_engine_event(self, event: object) -> None:
        if self._pool is not None:
            self._pool.receive()
        if isinstance(event, FitStarted):
            self._plan_changed("fit_started", (event.total_steps,))
        elif isinstance(event, BatchEnded):
            self._on_batch(event)
        elif isinstance(event, EpochEnded) and not self._lr_finding:
            self.emit(epoch_row(self.current_stage, event.row, self._series))
        elif isinstance(event, FitEnded):
            self._plan_changed("fit_ended", ())
            self._report_progress(force=True)

    def _on_batch(self, event: BatchEnded) -> None:
        self._plan_changed("step", ())
        if self._lr_finding:
            self.emit(LrFinderPoint(lr=event.lr, loss=event.smooth_loss))
        else:
            step = self._series_steps[self._series] = self._series_steps.get(self._series, 0) + 1
            self.emit(
                BatchLoss(
                    stage=self.current_stage,
                    step=step,
                    epoch=event.epoch,
                    loss=event.loss,
                    lr=event.lr,
                    series=self._series,
                )
            )
        self._report_progress()

    def _plan_changed(self, change: str, args: tuple[Any, ...]) -> None:
        """Count a fit's start, step or end (`ProgressPlan`'s method of that name), or in a helper process
        hand it to the lab's process, whose plan counts every process's fits."""
        if self._relay is not None:
            self._relay(change, args)
        else:
            getattr(self._plan, change)(*args)

    def _report_progress(self, force: bool = False) -> None:
        now = self.clock()
        if self._relay is not None or (not force and now - self._last_progress < PROGRESS_INTERVAL):
            return
        self._last_progress = now
        self.emit(self._plan.progress())


def epoch_row(stage: str, row: dict[str, Any], series: str = "train") -> EpochRow:
    """The engine's epoch row (`epoch, train_loss, valid_loss, <metrics>, time`) as a lab event."""
    known = {"epoch", "train_loss", "valid_loss", "time"}
    metrics = {key: float(value) for key, value in row.items() if key not in known and _is_number(value)}
    return EpochRow(
        stage=stage,
        epoch=int(row.get("epoch", 0)),
        train_loss=_float_or_none(row.get("train_loss")),
        valid_loss=_float_or_none(row.get("valid_loss")),
        metrics=metrics,
        seconds=_seconds(row.get("time")),
        series=series,
    )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _float_or_none(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _seconds(value: object) -> float:
    """Epoch time as the engine's Recorder gives it: seconds."""
    return _float_or_none(value) or 0.0


def resolve_data(value: str, home: HasDatasetsDir | None) -> Path:
    """`--data NAME|PATH`: the name of a cached dataset (`cardlab data fetch NAME`) or a file or folder."""
    from engine.datasets.fetch import resolve_data_arg

    if home is None:
        from cards.paths import Home

        return Path(resolve_data_arg(value, Home.resolve()))
    return Path(resolve_data_arg(value, home))
