"""Lab-run text that the lab screen and `cardlab lab run` / `show` share: epoch-row labels, and a finished
run's answer to the question with its verdict.

The verdict's words come from `labs.verdict_text`; this only styles them. Everything is `Text`, never
markup, and control characters are neutralised: claims and choices are lab output and must reach the
terminal as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text

from labs.events import EpochRow
from labs.verdict_text import Line, Tone, has_outcome, outcome_line, verdict_lines
from tui.widgets.safe_text import neutralize_controls

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
    lines: list[Line] = []
    if prompt is not None and has_outcome(result):
        lines += [[(prompt, "heading")], outcome_line(result, guess)]
    lines += verdict_lines(result)
    return _text(lines) if lines else None


def epoch_stage(row: EpochRow) -> str:
    """The stage, and the curve when a stage trains several ("language model · general LM", then "· review
    LM"): their epochs both count from 0, and the rows must not read alike."""
    if row.series in ("train", row.stage):
        return row.stage
    return f"{row.stage} · {row.series}"
