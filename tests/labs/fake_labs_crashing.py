"""A test lab whose process dies (`how` = exit, segv) or ignores cancel (hang)."""

from __future__ import annotations

import os
import signal
import time

from labs.info import LabInfo, Param, make_presets


def run(ctx) -> None:
    with ctx.stage("crash"):
        if ctx.p.how == "exit":
            os._exit(1)
        if ctx.p.how == "segv":
            os.kill(os.getpid(), signal.SIGSEGV)
        while True:  # "hang": never looks at the cancel flag
            time.sleep(0.05)


CRASHING = LabInfo(
    id="test-crashing",
    title="Crashing (test)",
    summary="Its process dies.",
    card_ids=(),
    params=(Param("how", "choice", "exit", "how it dies", choices=("exit", "segv", "hang")),),
    presets=make_presets(smoke={}, full={}),
    question=None,
    module="tests.labs.fake_labs_crashing",
    steps=("crash",),
)
