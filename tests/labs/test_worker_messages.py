"""A lab's failure as the app shows it: a .pth with a pickle payload is said to be unsafe and not loaded,
never with torch's advice to load it with weights_only=False."""

from __future__ import annotations

import io
import os

import pytest

from labs.worker import describe_failure, failure_kind


class Payload:
    def __reduce__(self):  # noqa: ANN204 - what a hostile .pth holds
        return (os.system, ("touch should-never-exist",))


def test_a_pickle_payload_is_refused_as_unsafe() -> None:
    torch = pytest.importorskip("torch")
    saved = io.BytesIO()
    torch.save({"weights": Payload()}, saved)
    saved.seek(0)
    with pytest.raises(Exception) as caught:
        torch.load(saved, weights_only=True)
    message = describe_failure(caught.value, failure_kind(caught.value))
    assert "unsafe" in message and "not loaded" in message and "system" in message
    assert "weights_only" not in message and "trusted source" not in message
