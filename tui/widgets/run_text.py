"""Lab-run text that the lab screen and `cardlab lab run` / `show` share: how a run's texts, tables, data and
epoch rows look, and a finished run's answer to the question with its verdict.

The verdict's words come from `labs.verdict_text`; this only styles them. Everything is `Text`, never
markup, and control characters are neutralised: claims and choices are lab output and must reach the
terminal as written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from engine.utils import format_number
from labs.events import ArtifactSaved, DataUsed, EpochRow, LabEvent, TableOutput, TextOutput
from labs.verdict_text import Line, Tone, data_used_line, has_outcome, outcome_line, verdict_lines
from tui.widgets.safe_text import neutralize_controls

TEXT_STYLES = {"explanation": "italic", "prediction": "bold green", "generated": "magenta"}
TONE_STYLES: dict[Tone, str] = {
    "heading": "bold",
    "agrees": "bold green",
    "disagrees": "bold red",
    "inconclusive": "bold yellow",
    "detail": "dim",
}


def _text(lines: list[Line]) -> Text:
    return Text("\n").join(
        Text.assemble(*((neutralize_controls(piece), TONE_STYLES[tone]) for piece, tone in line))
        for line in lines
    )


def run_report(prompt: str | None, result: Mapping[str, Any] | None, guess: str | None = None) -> Text | None:
    """The question with this run's answer (checked against `guess`), then the verdict; None if neither."""
    parts = report_parts(prompt, result, guess)
    return Text("\n").join(parts) if parts else None


def report_parts(
    prompt: str | None, result: Mapping[str, Any] | None, guess: str | None = None
) -> list[Text]:
    """`run_report` in two parts, the question and then the answer with the verdict (or the verdict alone):
    the lab screen shows its pane from the answer, the question being on screen beside it."""
    question = [_text([[(prompt, "heading")]])] if prompt is not None and has_outcome(result) else []
    lines = ([outcome_line(result, guess)] if question else []) + verdict_lines(result)
    return [*question, _text(lines)] if lines else []


def epoch_stage(row: EpochRow) -> str:
    """The stage, and the curve when a stage trains several ("language model · general LM", then "· review
    LM"): their epochs both count from 0, and the rows must not read alike."""
    if row.series in ("train", row.stage):
        return row.stage
    return f"{row.stage} · {row.series}"


def output_renderables(
    event: LabEvent, safe: Callable[[str], str] = neutralize_controls
) -> list[RenderableType]:
    """How one of the run's texts, tables, saved files or its data line looks, on the screen and in the
    terminal alike; nothing for the events each view shows its own way (stages, epoch rows, the end).
    `safe` shows control characters harmlessly: as pictures on the screen, escaped in the terminal."""
    if isinstance(event, TextOutput):
        title = [Text(safe(event.title), style="bold")] if event.title else []
        return [*title, Text(safe(event.text), style=TEXT_STYLES.get(event.kind, ""))]
    if isinstance(event, TableOutput):
        return [_table(event, safe)]
    if isinstance(event, ArtifactSaved):
        return [Text(safe(f"saved {event.name}: {event.path}"), style="dim")]
    if isinstance(event, DataUsed):
        style = "bold green" if event.source == "real" else "bold yellow"
        return [Text(safe(data_used_line(asdict(event))), style=style)]
    return []


def _table(event: TableOutput, safe: Callable[[str], str]) -> Table:
    # Text, never str: Rich would read a column named "[bold]" as markup.
    table = Table(title=Text(safe(event.title)), title_justify="left", box=None, header_style="bold")
    for column in event.columns:
        table.add_column(Text(safe(column)))
    for row in event.rows:
        table.add_row(*(Text(safe(cell)) for cell in row))
    return table


def epoch_columns(row: EpochRow) -> list[str]:
    return ["epoch", "train_loss", "valid_loss", *row.metrics, "time"]


def epoch_cells(row: EpochRow) -> dict[str, str]:
    """An epoch row's values as shown, by column (`epoch_columns`, and "stage": `epoch_stage`)."""
    return {
        "stage": epoch_stage(row),
        "epoch": str(row.epoch),
        "train_loss": format_number(row.train_loss),
        "valid_loss": format_number(row.valid_loss),
        "time": f"{row.seconds:.1f}s",
        **{name: format_number(value) for name, value in row.metrics.items()},
    }
