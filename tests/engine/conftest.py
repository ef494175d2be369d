"""Fixtures shared by the engine tests."""

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Tiny models: two threads only add synchronisation cost (and stall on a busy machine).

    Use per module with `pytestmark = pytest.mark.usefixtures("one_torch_thread")`; the count is restored after.
    """
    import torch  # here, not at the top: collecting the engine tests must not import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
