"""A test lab that reports the state it finds in its process, then changes all of it: a run that finds
the changes ran in a process an earlier lab had used (`test_warm_worker`)."""

from __future__ import annotations

import os
import sys

from labs.info import LabInfo, make_presets

MARK = "CARDLAB_TEST_EARLIER_LAB"
runs_in_this_process = 0  # a module global: a lab's modules must not outlive its run


def run(ctx) -> dict[str, object]:
    global runs_in_this_process
    import torch

    with ctx.stage("look"):
        found = {
            "runs_before": runs_in_this_process,
            "default_dtype": str(torch.get_default_dtype()),
            "grad_enabled": torch.is_grad_enabled(),
            "threads": torch.get_num_threads(),
            "interop_threads": torch.get_num_interop_threads(),
            "env_mark": os.environ.get(MARK),
            "seeded_draw": torch.rand(1).item(),  # the context seeded torch: the same in every fresh run
            "pid": os.getpid(),
            "warm": "--warm" in sys.argv,
        }
        runs_in_this_process += 1
        torch.set_default_dtype(torch.float64)
        torch.set_grad_enabled(False)
        torch.set_num_threads(torch.get_num_threads() + 1)
        torch.manual_seed(12345)
        torch.rand(7)
        os.environ[MARK] = "set"
    return found


STATEFUL = LabInfo(
    id="test-stateful",
    title="Stateful (test)",
    summary="Reports its process's state, then changes it.",
    card_ids=(),
    params=(),
    presets=make_presets(smoke={}, full={}),
    question=None,
    module="tests.labs.fake_labs_stateful",
    steps=("look",),
)
