"""Saved lab runs: one folder per run under `home.runs_dir`, holding `run.json`.

A record is a run's state (`labs.run_state.RunState`: the per-epoch metrics, the thinned loss curves,
the lr-finder curve, the texts and tables the lab printed, how the run ended) with what identifies the
run (lab, preset, parameters, seed). Torch-free, so listing runs is cheap.

Records are checked when read (`labs.json_shape`): a `run.json` with a missing field, a null status or a
curve of strings is a `DamagedRun` with the reason, listed as damaged, never a crash further on.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from labs.events import EpochRow, event_to_dict, event_type
from labs.files import write_atomic
from labs.json_shape import ShapeError, conform_fields
from labs.run_state import RecordStatus, RunState

RUN_FILE = "run.json"
RECORD_VERSION = 1

__all__ = ["RecordStatus", "RunRecord", "RunRecordError"]


class RunRecordError(ValueError):
    """A saved run that cannot be read: the message says which file and what is wrong with it."""


@dataclass(kw_only=True)
class RunRecord(RunState):
    """A run's state with what identifies it: the runner folds each event in (`apply`) and saves it."""

    run_id: str
    lab_id: str
    preset: str
    params: dict[str, Any]
    device: str
    seed: int
    started: str  # ISO 8601, UTC
    version: int = RECORD_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, default=str)

    @classmethod
    def from_json(cls, text: str) -> RunRecord:
        """The record in `text`, every field checked; RunRecordError names the first one that is wrong."""
        try:
            data = json.loads(text)
        except ValueError as error:
            raise RunRecordError(f"not JSON ({error})") from None
        if not isinstance(data, dict) or "run_id" not in data:
            raise RunRecordError("not a cardlab run record")
        try:
            checked = conform_fields(cls, data)
            checked["epochs"] = [
                asdict(EpochRow(**conform_fields(EpochRow, row, f"epochs[{i}]")))
                for i, row in enumerate(checked.get("epochs", []))
            ]
            checked["events"] = _checked_events(checked.get("events", []))
        except ShapeError as error:
            raise RunRecordError(str(error)) from None
        return cls(**checked)


def _checked_events(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events of known types, checked; those of types this version does not know (a newer cardlab's) are
    left out, as the screens could not show them anyway."""
    events = []
    for i, item in enumerate(items):
        cls = event_type(item.get("type"))
        if cls is not None:
            events.append(event_to_dict(cls(**conform_fields(cls, item, f"events[{i}]"))))
    return events


@dataclass(frozen=True)
class DamagedRun:
    """A run folder whose `run.json` cannot be read, and why."""

    run_id: str  # the folder's name
    path: Path
    reason: str


def new_run_id(lab_id: str, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%d-%H%M%S}-{lab_id}-{secrets.token_hex(2)}"


def save_run(runs_dir: Path, record: RunRecord) -> Path:
    """Write atomically, so a crash never leaves a half-written record that breaks `lab show`."""
    return write_atomic(runs_dir / record.run_id / RUN_FILE, record.to_json())


def load_run(runs_dir: Path, run_id: str) -> RunRecord:
    """The saved run `run_id`; FileNotFoundError if there is none, RunRecordError if it is damaged."""
    path = runs_dir / run_id / RUN_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"no saved run {run_id!r} in {runs_dir} (see `cardlab lab runs` for the list)"
        )
    try:
        return read_record(path)
    except RunRecordError as error:
        raise RunRecordError(f"the saved run {run_id!r} is damaged: {path}: {error}") from None


def read_record(path: Path) -> RunRecord:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RunRecordError("not UTF-8 text") from None
    except OSError as error:
        raise RunRecordError(f"cannot read it: {error.strerror or error}") from None
    return RunRecord.from_json(text)


def scan_runs(runs_dir: Path, lab_id: str | None = None) -> tuple[list[RunRecord], list[DamagedRun]]:
    """Saved runs (of `lab_id`), newest first, and the damaged ones (those whose folder names the lab)."""
    if not runs_dir.is_dir():
        return [], []
    records, damaged = [], []
    for path in runs_dir.glob(f"*/{RUN_FILE}"):
        try:
            record = read_record(path)
        except RunRecordError as error:
            if lab_id is None or f"-{lab_id}-" in path.parent.name:
                damaged.append(DamagedRun(path.parent.name, path, str(error)))
            continue
        if lab_id is None or record.lab_id == lab_id:
            records.append(record)
    records.sort(key=lambda r: (r.started, r.run_id), reverse=True)
    return records, sorted(damaged, key=lambda d: d.run_id, reverse=True)


def list_runs(runs_dir: Path, lab_id: str | None = None) -> list[RunRecord]:
    """Saved runs, newest first; damaged records are left out (`scan_runs` lists them)."""
    return scan_runs(runs_dir, lab_id)[0]


def previous_run(runs_dir: Path, lab_id: str, exclude: str | None = None) -> RunRecord | None:
    """The newest saved run of `lab_id` with a loss curve, for the chart's overlay."""
    for record in list_runs(runs_dir, lab_id):
        if record.run_id != exclude and (record.curves or record.lr_finder):
            return record
    return None
