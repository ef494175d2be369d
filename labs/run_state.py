"""One lab run's state, folded from its events once: what the lab screen and `cardlab lab run` draw, and what
a saved run (`labs.runs.RunRecord`) keeps.

`RunState.apply` is the only place an event is interpreted: curves (thinned as they grow, so a view costs
the same at step 100 and step 1,000,000), epoch rows, stages, progress over the lab's whole plan, the
texts and tables in order, the data used and how the run ended. The saved fields are plain JSON; the live
ones (`outputs`, `stage`, `progress`, ...) are rebuilt from the kept events when a saved run is read, so a
saved run and a live one look the same. Views keep a cursor into `outputs` and redraw from the rest.
Torch-free.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from labs.events import (
    BatchLoss,
    Cancelled,
    DataUsed,
    EpochRow,
    Failed,
    Finished,
    LabEvent,
    LrFinderPoint,
    LrSuggestion,
    Progress,
    StageStarted,
    event_from_dict,
    event_to_dict,
)

MAX_CURVE_POINTS = 2000  # per curve (even): more only adds drawing time and file size

# Per-step events are folded into curves and the progress; every other event is kept as it was emitted.
_SUMMARISED = (BatchLoss, LrFinderPoint, Progress)

RecordStatus = Literal["running", "finished", "failed", "cancelled"]
Curve = list[tuple[int, float]]  # (step, loss)
Points = list[tuple[float, float]]


@dataclass
class CurveThinning:
    """Keeps a curve at most MAX_CURVE_POINTS long: when full, pairs of points merge and from then on
    each kept point is the mean of `stride` steps."""

    stride: int = 1
    pending: list[float] = field(default_factory=list)
    last_step: int = 0  # the latest step seen, kept or pending: where a validation point belongs

    def add(self, curve: Curve, step: int, loss: float) -> None:
        self.last_step = step
        self.pending.append(loss)
        if len(self.pending) < self.stride:
            return
        curve.append((step, sum(self.pending) / len(self.pending)))
        self.pending.clear()
        if len(curve) == MAX_CURVE_POINTS:  # even, so every point has a partner
            curve[:] = [(b[0], (a[1] + b[1]) / 2) for a, b in zip(curve[::2], curve[1::2], strict=True)]
            self.stride *= 2


@dataclass(kw_only=True)
class RunState:
    # What the lab reported it trained on: {"source": "real"|"generated", "name", "rows", "unit", "note",
    # "argument"} (`--data` as typed, None without one); until it says, `--data` as typed
    data: str | dict[str, Any] | None = None
    status: RecordStatus = "running"
    seconds: float = 0.0
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    epochs: list[dict[str, Any]] = field(default_factory=list)
    # Training curves by series name ("train" unless the lab compares several fits): (step, loss)
    curves: dict[str, Curve] = field(default_factory=dict)
    valid_curves: dict[str, Curve] = field(default_factory=dict)  # (step at epoch end, loss)
    lr_finder: Points = field(default_factory=list)  # (lr, smoothed loss)
    events: list[dict[str, Any]] = field(default_factory=list)  # the kept events, as saved

    def __post_init__(self) -> None:
        self.outputs: list[LabEvent] = []  # the kept events in order: what views print
        self.stage: StageStarted | None = None  # the stage running now (or last, once ended)
        self.stages_done: set[int] = set()  # indices in the lab's steps
        self.progress: Progress | None = None
        self.changes = 0  # counts applied events: a view redraws when it differs from what it drew
        self._thinning: dict[str, CurveThinning] = {}
        for item in self.events:  # a saved run: its live fields, as they were at its end
            self._follow(event_from_dict(item))

    # -- folding events ------------------------------------------------------------------------

    def apply(self, event: LabEvent) -> None:
        """Fold one event in (the runner calls this for every event, in order)."""
        self.changes += 1
        if isinstance(event, BatchLoss):
            curve = self.curves.setdefault(event.series, [])
            self._thinning.setdefault(event.series, CurveThinning()).add(curve, event.step, event.loss)
        elif isinstance(event, LrFinderPoint):
            self.lr_finder.append((event.lr, event.loss))
        elif isinstance(event, Progress):
            self.progress = event
        elif isinstance(event, EpochRow):
            self._add_epoch(event)
        elif isinstance(event, DataUsed):
            self._set_data(event)
        elif isinstance(event, Finished):
            self.status, self.result, self.seconds = "finished", dict(event.result), event.seconds
        elif isinstance(event, Failed):
            self.status, self.error, self.seconds = "failed", event.error, event.at
        elif isinstance(event, Cancelled):
            self.status, self.seconds = "cancelled", event.at
        if not isinstance(event, _SUMMARISED):
            self.events.append(event_to_dict(event))
            self._follow(event)

    def _follow(self, event: LabEvent) -> None:
        """The live fields a kept event changes (also run over a saved run's events when it is read)."""
        self.outputs.append(event)
        if isinstance(event, StageStarted):
            self._stage_done()
            self.stage = event
        elif isinstance(event, Finished):
            self._stage_done()

    def _stage_done(self) -> None:
        if self.stage is not None and self.stage.index >= 0:
            self.stages_done.add(self.stage.index)

    def _add_epoch(self, row: EpochRow) -> None:
        self.epochs.append(asdict(row))
        if row.valid_loss is not None:
            thinning = self._thinning.get(row.series)
            step = thinning.last_step if thinning else 0
            self.valid_curves.setdefault(row.series, []).append((step, row.valid_loss))

    def _set_data(self, event: DataUsed) -> None:
        argument = self.data.get("argument") if isinstance(self.data, dict) else self.data
        self.data = {**asdict(event), "argument": argument}
        self.data.pop("at", None)

    # -- views ---------------------------------------------------------------------------------

    @property
    def ended(self) -> bool:
        return self.status != "running"

    def progress_done(self) -> tuple[int, int] | None:
        """(done, total) for a bar: short of full until the run has ended, whatever the lab's plan said
        (a stage may need more steps than planned); full once it has finished; None before any plan."""
        if self.status == "finished":
            total = self.progress.total if self.progress else 1
            return max(total, 1), max(total, 1)
        if self.progress is None:
            return None
        total = max(self.progress.total, self.progress.done + 1, 1)
        return min(self.progress.done, total - 1), total

    def lr_suggestions(self) -> dict[str, float]:
        """The lr finder's suggestions by name (valley, steep, minimum), to mark on its chart."""
        return {event.name: event.lr for event in self.outputs if isinstance(event, LrSuggestion)}

    def chart_data(self) -> tuple[dict[str, Curve], dict[str, Curve], Points]:
        """Copies of the curves, the validation curves and the lr-finder curve: a view draws from these
        while the reader thread goes on folding events into the originals."""
        return (
            {name: list(points) for name, points in self.curves.items()},
            {name: list(points) for name, points in self.valid_curves.items()},
            list(self.lr_finder),
        )

    def saved_fields(self) -> dict[str, Any]:
        """The fields a saved run keeps (the live ones are rebuilt from `events` when it is read)."""
        return {name: getattr(self, name) for name in RunState.__dataclass_fields__}
