from __future__ import annotations

import pytest

from labs import registry
from tests.labs.fake_labs import COUNTING, FAILING


@pytest.fixture
def fake_labs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Adds the test-only labs `test-counting` and `test-failing` to the registry."""
    monkeypatch.setitem(registry._BY_ID, COUNTING.id, COUNTING)
    monkeypatch.setitem(registry._BY_ID, FAILING.id, FAILING)
