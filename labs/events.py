"""Typed events a running lab emits; the lab screen and `cardlab lab run` consume them.

Plain dataclasses of numbers and strings (no tensors), so they cross threads safely and save as JSON.
`at` is the number of seconds since the run started, stamped by the context when the event is emitted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal


@dataclass
class LabEvent:
    at: float = field(default=0.0, kw_only=True)


@dataclass
class StageStarted(LabEvent):
    name: str
    index: int  # position in the lab's steps, -1 for a stage outside them


@dataclass
class StageFinished(LabEvent):
    name: str
    seconds: float


@dataclass
class BatchLoss(LabEvent):
    """One training step of the curve `series`; `step` counts from 1 along that curve, across fits."""

    stage: str
    step: int
    epoch: int
    loss: float
    lr: float | None = None
    series: str = "train"


@dataclass
class EpochRow(LabEvent):
    stage: str
    epoch: int
    train_loss: float | None
    valid_loss: float | None
    metrics: dict[str, float]
    seconds: float
    series: str = "train"


@dataclass
class LrFinderPoint(LabEvent):
    lr: float
    loss: float


@dataclass
class LrSuggestion(LabEvent):
    """A learning rate the lr finder suggests (`name`: valley, steep, minimum), marked on the chart."""

    name: str
    lr: float


SEED_MARK = " · seed "  # a curve named "ARM · seed N" is one seed's fit of ARM: charts draw each arm's mean


def seed_series(arm: str, seed: int) -> str:
    """The curve name of `arm` trained on `seed`, so charts can draw one line per arm with its spread."""
    return f"{arm}{SEED_MARK}{seed}"


def arm_of(series: str) -> str | None:
    """The arm of a seed's curve ("ARM · seed N" -> "ARM"), None for a curve of no seed."""
    arm, mark, seed = series.rpartition(SEED_MARK)
    return arm if mark and arm and seed.lstrip("-").isdigit() else None


TextKind = Literal["text", "explanation", "prediction", "generated"]


@dataclass
class TextOutput(LabEvent):
    text: str
    title: str = ""
    kind: TextKind = "text"


@dataclass
class TableOutput(LabEvent):
    title: str
    columns: list[str]
    rows: list[list[str]]


@dataclass
class ArtifactSaved(LabEvent):
    name: str
    path: str


DataSource = Literal["real", "generated"]


@dataclass
class DataUsed(LabEvent):
    """Which data the run trains on: a real dataset (`name` is its catalog name or path) or the lab's
    generated fallback; `rows` counts what the lab read or made (`unit`: "ratings", "reviews", ...)."""

    source: DataSource
    name: str
    rows: int
    unit: str = "rows"
    note: str = ""  # e.g. how to get the real data, or what the generator was given


@dataclass
class Progress(LabEvent):
    """Steps done out of the total the lab planned; `eta` in seconds, None until it can be estimated."""

    done: int
    total: int
    eta: float | None


@dataclass
class Finished(LabEvent):
    """`result` holds the lab's headline numbers; `result["outcome"]` names the question's true choice."""

    result: dict[str, Any]
    seconds: float


FailureKind = Literal["error", "diverged", "out_of_memory"]


@dataclass
class Failed(LabEvent):
    error: str
    traceback: str
    kind: FailureKind = "error"


@dataclass
class Cancelled(LabEvent):
    stage: str


TERMINAL_EVENTS = (Finished, Failed, Cancelled)

_EVENT_TYPES: dict[str, type[LabEvent]] = {
    cls.__name__: cls
    for cls in (
        StageStarted,
        StageFinished,
        BatchLoss,
        EpochRow,
        LrFinderPoint,
        LrSuggestion,
        TextOutput,
        TableOutput,
        ArtifactSaved,
        DataUsed,
        Progress,
        Finished,
        Failed,
        Cancelled,
    )
}


def event_to_dict(event: LabEvent) -> dict[str, Any]:
    return {"type": type(event).__name__, **asdict(event)}


def event_type(name: object) -> type[LabEvent] | None:
    """The event class called `name` (an event dict's "type"); None for a type this version lacks."""
    return _EVENT_TYPES.get(name) if isinstance(name, str) else None


def event_from_dict(data: dict[str, Any]) -> LabEvent:
    """The inverse of `event_to_dict`; unknown keys (from a newer cardlab) are dropped."""
    kind = data.get("type")
    cls = event_type(kind)
    if cls is None:
        raise ValueError(f"unknown lab event type {kind!r}")
    names = {f.name for f in fields(cls)}
    return cls(**{key: value for key, value in data.items() if key in names})
