"""Small helpers: seeding, device choice, a thread-safe cancel token.

torch is imported inside the functions that need it so `CancelToken` stays importable without torch.
"""

from __future__ import annotations

import math
import os
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    import torch


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) so CPU runs repeat exactly."""
    import numpy as np
    import torch

    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch's CPU ops inside the block on one thread, then restore the count: for small ops whose
    parallel path costs more than it saves (see `engine.tabular.model._RowLookup` and
    `engine.optim.SMALL_STEP_ELEMENTS`)."""
    import torch

    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def state_bytes(model: torch.nn.Module) -> bytes:
    """A model's weights and buffers as plain bytes, to send to another process (pickled as they are,
    tensors would travel as shared-memory handles, torch.multiprocessing's way)."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


def load_state_bytes(model: torch.nn.Module, data: bytes) -> None:
    """Load what `state_bytes` gave into a model of the same shapes, on the model's own device."""
    import io

    import torch

    device = next(iter(model.state_dict().values())).device
    model.load_state_dict(torch.load(io.BytesIO(data), map_location=device, weights_only=True))


def pick_device(device: str | torch.device | None = "auto") -> torch.device:
    """Resolve a device request: "auto" (or None) picks CUDA, then MPS, then CPU; anything else is honoured.

    Raises RuntimeError with a clear message if CUDA or MPS is asked for and absent, ValueError if the
    string is not a device name.
    """
    import torch

    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"unknown device {device!r}: use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'") from err
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"device={str(device)!r} was requested but CUDA is not available "
                "(no GPU, or a CPU-only torch build); use device='cpu' or device='auto'"
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise RuntimeError(
                f"device={str(device)!r} was requested but only {torch.cuda.device_count()} CUDA device(s) exist"
            )
        if resolved.index is None:  # name the index so tensor.device == device comparisons hold
            resolved = torch.device("cuda", torch.cuda.current_device())
    if resolved.type == "mps" and not _mps_available():
        raise RuntimeError(f"device={str(device)!r} was requested but MPS (Apple GPU) is not available")
    return resolved


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


class CancelToken:
    """A flag another thread sets to stop training at the next batch.

    Pass it in ``cbs`` (``learn.fit(3, cbs=[token])``) or wrap it in ``engine.callbacks.CancelOnToken``.
    A cancelled fit returns normally (no exception) with ``learn.cancelled == True``.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def __repr__(self) -> str:
        return f"CancelToken(cancelled={self.cancelled})"


def write_atomic(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> Path:
    """Write a file through a temporary file in the same folder, fsync and rename: a crash or a full disk
    leaves the old file or the new one, never half of one, and no temporary file behind.

    The same guarantee as `cards.files.write_atomic` (the walls keep the two packages apart, so each has
    its writer; tests/test_atomic_writers.py holds both to it): the mode a plain open() gives (0o666 less
    the umask), the data fsynced before the rename, the folder fsynced after it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)
    return path


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable; best effort (not every system can open a folder)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def save_atomic(obj: object, path: str | os.PathLike[str]) -> Path:
    """`torch.save` through `write_atomic`."""
    import torch

    return write_atomic(path, lambda handle: torch.save(obj, handle))


def format_number(value: object, digits: int = 4, trim_zeros: bool = False) -> str:
    """How cardlab prints a metric or a table cell, everywhere: `digits` decimals; scientific notation for
    magnitudes below 1e-3 or from 1e5 on (so a learning rate of 3e-05 is not "0.0000"); an em dash for a
    missing value; with `trim_zeros`, "0.5" rather than "0.5000". Anything that is not a float: str()."""
    if value is None:
        return "—"
    if not isinstance(value, float):
        return str(value)
    if value != 0 and math.isfinite(value) and not 1e-3 <= abs(value) < 1e5:
        return f"{value:.2e}"
    text = f"{value:.{digits}f}"
    if trim_zeros and "." in text:
        text = text.rstrip("0")
        text += "0" if text.endswith(".") else ""
    return text
