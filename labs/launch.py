"""Running a lab on several processes: the torchrun (`torch.distributed.run`) command line. Torch-free.

    cardlab lab run ulmfit-lm --nproc 8                                   # one machine, 8 GPUs
    cardlab lab run ulmfit-lm --nproc 8 --nnodes 2 --node-rank 0 --master-addr HOST --master-port 29500

Every process runs the lab's code (`python -m labs.worker`), reading its RunSpec from the environment
(`SPEC_ENV`); only rank 0 writes the event stream the app reads, so the run is saved once, by the node
holding rank 0. One node rendezvous on a free port of its own (`--standalone`); several nodes meet at
`--master-addr:--master-port` (torchrun's static rendezvous: node 0 holds ranks 0..nproc-1).
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from labs.errors import LabError

SPEC_ENV = "CARDLAB_LAB_SPEC"
DEFAULT_MASTER_ADDR = "127.0.0.1"  # torchrun's defaults
DEFAULT_MASTER_PORT = 29500


@dataclass(frozen=True)
class Launch:
    nproc: int = 1
    nnodes: int = 1
    node_rank: int = 0
    master_addr: str = DEFAULT_MASTER_ADDR
    master_port: int = DEFAULT_MASTER_PORT

    def __post_init__(self) -> None:
        if self.nproc < 1 or self.nnodes < 1:
            raise LabError(f"--nproc and --nnodes must be at least 1, got {self.nproc} and {self.nnodes}")
        if not 0 <= self.node_rank < self.nnodes:
            raise LabError(f"--node-rank must be in 0..{self.nnodes - 1}, got {self.node_rank}")
        if not 0 < self.master_port < 65536:
            raise LabError(f"--master-port must be a TCP port (1-65535), got {self.master_port}")

    @property
    def distributed(self) -> bool:
        return self.nproc * self.nnodes > 1

    @property
    def reports(self) -> bool:
        """This node holds rank 0: its processes write the events, and the run is saved here."""
        return self.node_rank == 0

    def command(self) -> list[str]:
        """torchrun's command line for `python -m labs.worker`."""
        run = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(self.nproc)]
        if self.nnodes == 1:
            run.append("--standalone")
        else:
            run += [
                *("--nnodes", str(self.nnodes), "--node-rank", str(self.node_rank)),
                *("--master-addr", self.master_addr, "--master-port", str(self.master_port)),
            ]
        return [*run, "--max-restarts", "0", "-m", "labs.worker"]


def process_rank() -> int:
    """This process's rank in a distributed run (0 outside one)."""
    value = os.environ.get("RANK", "")
    return int(value) if value.isdigit() else 0


def gpu_count() -> int:
    """NVIDIA GPUs this process may use, without importing torch (for the lab screen's process choice)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    gpus = Path("/proc/driver/nvidia/gpus")
    return len(list(gpus.iterdir())) if gpus.is_dir() else 0


_ROOT_CAUSE = re.compile(r"rank\s*:\s*(\d+)\s*\(local_rank:\s*(\d+)\).*?exitcode\s*:\s*(-?\d+)", re.S)


def torchrun_failure(stderr: str) -> str | None:
    """torchrun's "Root Cause" of a failed run in one line: which rank ended how."""
    found = _ROOT_CAUSE.search(stderr, max(stderr.rfind("Root Cause"), 0))
    if found is None:
        return None
    rank, local, code = (int(g) for g in found.groups())
    how = f"signal {-code}" if code < 0 else f"exit code {code}"
    return f"rank {rank} (local rank {local}) of the distributed run ended first, with {how}"
