"""A lab of plain Python: it imports no torch, so its process never loads torch."""

from __future__ import annotations

import random
import sys

from labs.context import LabContext
from labs.registry import LabInfo, _presets

PLAIN = LabInfo(
    id="test-plain",
    title="Plain (test)",
    summary="Draws a number; says whether torch was loaded.",
    card_ids=(),
    params=(),
    presets=_presets(smoke={}, full={}),
    question=None,
    module="tests.labs.fake_labs_plain",
    steps=("draw",),
)


def run(ctx: LabContext) -> dict[str, object]:
    with ctx.stage("draw"):
        draw = random.random()
    return {"torch_loaded": "torch" in sys.modules, "draw": draw, "device": ctx.device}
