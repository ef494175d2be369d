from __future__ import annotations

import pytest

from labs import registry
from tests.labs.fake_labs import COUNTING, FAILING, TWO_SCALES


@pytest.fixture
def fake_labs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Adds the test-only labs `test-counting`, `test-failing` and `test-two-scales` to the registry."""
    for lab in (COUNTING, FAILING, TWO_SCALES):
        monkeypatch.setitem(registry._BY_ID, lab.id, lab)
