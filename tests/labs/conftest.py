from __future__ import annotations

from collections.abc import Iterator

import pytest

from labs import registry
from tests.labs.fake_labs import COUNTING, FAILING, TWO_SCALES


@pytest.fixture
def fake_labs() -> Iterator[None]:
    """Adds the test-only labs `test-counting`, `test-failing` and `test-two-scales` to the registry."""
    with registry.extra_labs(COUNTING, FAILING, TWO_SCALES):
        yield
