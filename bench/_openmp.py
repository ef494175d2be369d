"""How idle OpenMP threads wait in the benches: set before torch loads, and reported beside each result.

Idle threads sleep (`OMP_WAIT_POLICY=PASSIVE`) unless the caller's environment says otherwise: on a busy
2-core machine threads that spin while idle made 2-thread training 10-50x slower (collab 9-44 s vs 1.5 s).
Sleeping has its own cost on a quiet virtual machine, where each parallel region wakes a sleeping vCPU:
BatchNorm1d forward on 512 x 200 took 498 us on 2 passive threads against 69 us on one. A bounded spin,
`GOMP_SPINCOUNT=10000` (about 0.1 ms by libgomp's estimate; it overrides the wait policy), made the
tabular bench's 2-thread fit 3x faster on a quiet machine and 2-4x slower beside two busy processes. So the
benches keep PASSIVE, and a comparison passes both sides the same setting; "openmp" in each bench's JSON
says which one it ran under.
"""

from __future__ import annotations

import os

SETTINGS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS")


def sleeping_idle_threads() -> None:
    """Idle OpenMP threads sleep unless the environment chose otherwise (call before importing torch)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def openmp_setting() -> dict[str, str]:
    """The OpenMP variables this process runs under, for the bench's JSON."""
    return {name: os.environ[name] for name in SETTINGS if name in os.environ}
