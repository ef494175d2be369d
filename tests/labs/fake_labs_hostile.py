"""A test lab whose every output is hostile text (tests.faults.HOSTILE, and the lines of its --data file):
texts, titles, tables, column names, as a lab reading a hostile dataset would print them."""

from __future__ import annotations

from pathlib import Path

from labs.context import LabContext
from labs.events import LabEvent, TableOutput, TextOutput
from labs.registry import LabInfo, Param, _presets
from tests.faults import HOSTILE


def hostile_outputs(data_lines: list[str]) -> list[LabEvent]:
    texts = [*HOSTILE, *data_lines]
    outputs: list[LabEvent] = [TextOutput(text, title=f"title {text[:40]}") for text in texts]
    columns = [f"column {text[:30]}" for text in texts[:3]]
    return [*outputs, TableOutput(f"table {texts[0]}", columns, [texts[:3], texts[-3:]])]


def run(ctx: LabContext) -> dict[str, object]:
    lines = Path(ctx.data).read_text(encoding="utf-8").splitlines() if ctx.data else []
    with ctx.stage("speak"):
        for event in hostile_outputs(lines):
            ctx.emit(event)
        ctx.text(ctx.p.sentence, kind="prediction")
    return {"outcome": None}


HOSTILE_LAB = LabInfo(
    id="test-hostile",
    title="Hostile (test)",
    summary="Prints text that must reach the terminal literally.",
    card_ids=(),
    params=(Param("sentence", "str", "plain", "text the lab echoes"),),
    presets=_presets(smoke={}, full={}),
    question=None,
    module="tests.labs.fake_labs_hostile",
    steps=("speak",),
)
