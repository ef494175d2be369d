"""Running a built-in lab to its end in a protocol test, and the small real-format files they feed it."""

from __future__ import annotations

import csv
from pathlib import Path

from labs.events import Failed, LabEvent
from labs.registry import get_lab
from labs.runner import LabRun


def run_lab(
    lab_id: str,
    tmp_path: Path,
    preset: str = "smoke",
    data: str | None = None,
    timeout: float = 120,
    **overrides: object,
) -> tuple[LabRun, list[LabEvent]]:
    """The finished run of `lab_id` on CPU and all its events; a failure shows its traceback."""
    run = LabRun(
        get_lab(lab_id), preset=preset, overrides=overrides, device="cpu", runs_dir=tmp_path, data=data
    ).start()
    events = list(run.iter_events())
    assert run.join(timeout=timeout)
    failure = next((e for e in events if isinstance(e, Failed)), None)
    assert failure is None, failure.traceback
    assert run.status == "finished", run.record.error
    return run, events


def write_texts_csv(path: Path, n_rows: int) -> Path:
    """An IMDB_SAMPLE-shaped texts.csv (label,text,is_valid) of `n_rows` plain reviews."""
    words = ["the", "film", "was", "long", "and", "the", "cast", "was", "large", "at", "times"]
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["label", "text", "is_valid"])
        for i in range(n_rows):
            text = " ".join(words[(i + k) % len(words)] for k in range(30))
            writer.writerow(["positive" if i % 2 else "negative", text, i % 4 == 0])
    return path
